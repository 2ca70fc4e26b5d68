<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>cnBeta.COM - 中文业界资讯站</title>
    <link>https://www.cnbeta.com.tw</link>
    <description>cnBeta.COM - 简明IT新闻,网友媒体与言论平台</description>
    <language>zh-cn</language>
    <copyright>Copyright (c) 2003-2026 cnBeta.COM</copyright>
    <lastBuildDate>Thu, 19 Nov 2026 06:40:05 GMT</lastBuildDate>
    <ttl>10</ttl>
    <image>
      <url>https://static.cnbetacdn.com/www/images/logo_2026.png</url>
      <title>cnBeta.COM</title>
      <link>https://www.cnbeta.com.tw</link>
    </image>
    <item>
      <title><![CDATA[淘宝App全量接入微信支付 天猫&amp;闲鱼同步开放]]></title>
      <link>https://www.cnbeta.com.tw/articles/tech/1591377.htm</link>
      <description><![CDATA[<p>淘宝11月19日宣布，微信支付已向全部淘宝、天猫用户开放，消费者下单时可在收银台直接选择微信支付；二手交易平台闲鱼将在11月底前完成接入。这是阿里与腾讯在支付环节最彻底的一次打通。…</p><a href="https://www.cnbeta.com.tw/articles/tech/1591377.htm" target="_blank">阅读全文</a>]]></description>
      <author>Kevo</author>
      <pubDate>Thu, 19 Nov 2026 06:32:18 GMT</pubDate>
      <guid>https://www.cnbeta.com.tw/articles/tech/1591377.htm</guid>
    </item>
    <item>
      <title><![CDATA[海底光缆变身“地震仪” 研究人员捕捉到海底滑坡前的微弱信号]]></title>
      <link>https://www.cnbeta.com.tw/articles/science/1591290.htm</link>
      <description><![CDATA[<p>一个国际研究团队利用一条横跨海峡的商用通信光缆，在一次海底滑坡发生前约40分钟记录到了持续增强的微小震动。研究人员认为，这种被称为分布式声学传感的技术，有望让现有的海底光缆网络承担起灾害预警的任务。…</p><a href="https://www.cnbeta.com.tw/articles/science/1591290.htm" target="_blank">阅读全文</a>]]></description>
      <author>Bingo</author>
      <pubDate>Wed, 18 Nov 2026 13:06:41 GMT</pubDate>
      <guid>https://www.cnbeta.com.tw/articles/science/1591290.htm</guid>
    </item>
    <item>
      <title>微信放开淘宝商品链接 聊天中点击即可直接打开</title>
      <link>https://www.cnbeta.com.tw/articles/tech/1591204.htm</link>
      <description><![CDATA[<p>11月17日晚间，不少微信用户发现，在聊天窗口中点击淘宝、天猫的商品链接，已经可以在微信内直接打开商品详情页，不再弹出“请复制链接后在浏览器中打开”的提示。腾讯方面18日上午确认，这项调整正在分批推送，预计本周内覆盖全部用户。…</p><a href="https://www.cnbeta.com.tw/articles/tech/1591204.htm" target="_blank">阅读全文</a>]]></description>
      <author>Mashiro</author>
      <pubDate>Wed, 18 Nov 2026 01:15:09 GMT</pubDate>
      <guid>https://www.cnbeta.com.tw/articles/tech/1591204.htm</guid>
    </item>
    <item>
      <title><![CDATA[微信内测直接打开淘宝商品链接 外链规则再松绑]]></title>
      <link>https://www.cnbeta.com.tw/articles/tech/1591455.htm</link>
      <description><![CDATA[<p>11月中旬，部分微信用户发现，在聊天窗口里点开淘宝商品链接后，页面不再提示“复制链接到浏览器打开”，而是直接进入一个能够浏览商品详情、加入购物车的网页。据财经网报道，腾讯方面回应称…</p><a href="https://www.cnbeta.com.tw/articles/tech/1591455.htm" target="_blank">阅读全文</a>]]></description>
      <author>Mashiro</author>
      <pubDate>Mon, 16 Nov 2026 02:48:41 GMT</pubDate>
      <guid>https://www.cnbeta.com.tw/articles/tech/1591455.htm</guid>
    </item>
  </channel>
</rss>
