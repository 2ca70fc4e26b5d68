"""Synthetic Chinese tech-news text: seeded, from sentence templates and a vocabulary.

Articles are either on the default topic (the Alibaba–Tencent opening: every one names one of
Alibaba's properties, one of Tencent's and a word of the opening, so seeds/topics.toml's query
matches it) or on one of ten unrelated beats that never use the opening's words. A repost is a
copy with a few sentences rewritten, for another site to carry with its own credit line.

The same seed always gives the same text: everything draws from one `random.Random`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# One topic-neutral pool of slot values, then each beat's own. Slots are written {name} in the
# templates; `_fill` draws a fresh value for every occurrence.

SURNAMES = _words(
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 "
    "彭 曾 肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 "
    "石 廖 贾 夏 韦 付 方 白 邹 孟 熊 秦 邱 江 尹 薛 闫 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵"
)
GIVEN = _words(
    "一 之 子 文 明 远 宁 安 晨 航 宇 浩 然 思 雨 欣 怡 佳 嘉 俊 杰 涛 磊 鹏 飞 琳 婷 雪 梅 兰 "
    "舟 帆 川 岚 越 驰 骁 知 行 言 默 若 溪 屿 青 禾 苗 松 柏 晓 曦 昊 泽 霖 楠 桐 蔓 芸 菲 璐"
)
CITIES = _words(
    "北京 上海 广州 深圳 杭州 成都 重庆 武汉 西安 南京 苏州 合肥 长沙 郑州 青岛 厦门 宁波 "
    "东莞 佛山 临沂 义乌 金华 泉州 温州 无锡 常州 昆明 贵阳 南宁 福州 济南 天津 沈阳 大连 "
    "哈尔滨 长春 太原 石家庄 南昌 兰州 乌鲁木齐 海口 珠海 惠州 嘉兴 绍兴 台州 徐州 扬州"
)
MEDIA = _words(
    "第一财经 界面新闻 澎湃新闻 财联社 证券时报 经济观察报 21世纪经济报道 每日经济新闻 "
    "新京报 南方都市报 晚点LatePost 雷峰网 钛媒体 IT之家 智东西 新浪科技 腾讯科技 网易科技"
)
ROLES = (
    "一位券商分析师",
    "一位接近监管部门的人士",
    "一位不愿具名的行业人士",
    "一家咨询机构的合伙人",
    "一位从业十年的产品经理",
    "一位投资人",
    "一家上市公司的董秘",
    "一位高校研究者",
    "一位行业协会的负责人",
    "一位基金经理",
    "某头部企业的战略负责人",
    "一位渠道商",
    "一位长期跟踪该行业的研究员",
    "一位创业者",
)
PERIODS = (
    "今年前三季度",
    "今年上半年",
    "第三季度",
    "10月份",
    "过去十二个月",
    "双11期间",
    "国庆黄金周",
    "去年全年",
    "今年以来",
    "截至11月中旬",
    "过去一个月",
    "9月至10月",
)
TRENDS_UP = ("增长", "上升", "提高", "增加", "攀升", "回升")
TRENDS_DOWN = ("下降", "回落", "减少", "下滑", "收窄", "走低")
HEDGES = (
    "从目前的情况看",
    "综合多方信息",
    "业内普遍认为",
    "据记者了解",
    "从公开数据看",
    "可以确定的是",
    "值得注意的是",
    "某种程度上",
    "短期来看",
    "长期来看",
    "一个细节是",
    "换个角度看",
)
CONNECTIVES = (
    "不过",
    "与此同时",
    "另一方面",
    "事实上",
    "此外",
    "相比之下",
    "也正因为如此",
    "但问题在于",
    "更重要的是",
    "需要指出的是",
)
OPINIONS = (
    "节奏比想象中快",
    "真正的考验还在后面",
    "这件事急不来",
    "大家都在观望",
    "账要一笔一笔算",
    "没有人愿意先掉队",
    "成本压力是实打实的",
    "用户的习惯很难一夜改变",
    "窗口期不会太长",
    "行业需要更长的耐心",
    "规模效应开始显现",
    "价格战打不动了",
    "关键在于执行",
    "这只是第一步",
    "先活下来再说",
    "细分市场还有机会",
    "资金更愿意押注确定性",
    "渠道的话语权在变化",
    "口碑比投放更重要",
    "利润比规模更重要",
)
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
CN_DIGITS = "一二三四五六七八九十"

COMMON = {
    "city": CITIES,
    "media": MEDIA,
    "role": ROLES,
    "period": PERIODS,
    "up": TRENDS_UP,
    "down": TRENDS_DOWN,
    "hedge": HEDGES,
    "conn": CONNECTIVES,
    "opinion": OPINIONS,
    "weekday": WEEKDAYS,
}

# Sentences any beat can use; {org} {product} {noun} {metric} {act} {event} come from the beat.
GENERAL_SENTENCES = (
    "{date}，{org}{act}，这是其今年以来第{cn}次在这一领域公开动作。",
    "据{media}报道，{org}{act}，{noun}的{metric}随之{up}了{pct}。",
    "{role}告诉记者：“{opinion}，{opinion}。”",
    "数据显示，{period}{noun}的{metric}达到{money}，同比{up}{pct}，环比{down}{pct2}。",
    "{hedge}，{org}与{org}在{noun}上的分歧并没有外界想象的那么大。",
    "{conn}，{city}一家{shop}的负责人{person}坦言，{noun}带来的变化“{opinion}”。",
    "{org}相关负责人在{event}上表示，公司会继续加大在{noun}上的投入，{period}相关支出已超过{money}。",
    "{hedge}，{noun}已经从“可选项”变成了“必选项”，{org}和{org}都在抢时间。",
    "按照{org}的说法，{product}的{metric}比上一代{up}了{pct}，但售价基本持平。",
    "一份来自{media}的统计显示，{period}共有{num}家企业{act2}，数量是去年同期的{ratio}倍。",
    "{person}算了一笔账：如果{noun}的{metric}再{down}{pct}，整个链条的利润就会被吃掉一半。",
    "{conn}，{noun}的竞争正在从拼价格转向拼效率，{org}的{product}就是一个例子。",
    "在{city}，{noun}相关的岗位{period}{up}了{pct}，{role}说“{opinion}”。",
    "{org}的{metric}在{period}首次超过{org}，差距虽然只有{pct}，却是一个信号。",
    "{date}{weekday}，{org}发布公告称，将以{money}收购一家从事{noun}的公司。",
    "对此，{org}方面回应称，{noun}的调整属于正常业务安排，不会影响现有用户。",
    "{hedge}，{noun}的门槛正在降低，中小企业也开始尝试。",
    "{person}所在的团队从{year}年开始做{noun}，先后经历了{cn}轮融资，累计金额约{money}。",
    "{event}上，{org}展示了{product}，现场排队体验的观众一度排到了{num}人。",
    "{conn}，{role}提醒，{noun}的{metric}波动较大，单看一个季度的数据并不可靠。",
    "记者在{city}走访发现，{noun}的实际{metric}与宣传口径存在{pct}左右的差距。",
    "{org}在财报中提到，{noun}业务{period}贡献收入{money}，占总营收的{pct}。",
    "{hedge}，{noun}真正的瓶颈不在技术，而在供应链的稳定性。",
    "这也意味着，{org}需要在{noun}和{noun}之间重新分配资源。",
    "{person}回忆，{year}年第一次接触{noun}时，整个行业只有不到{num}家公司。",
    "从{city}到{city}，{noun}的渗透率差距仍然明显，低线城市的{metric}只有一线城市的一半左右。",
    "{conn}，监管层面对{noun}的态度趋于明确，{period}出台的相关文件有{cn}份之多。",
    "截至发稿，{org}尚未就此事作出进一步回应。",
    "{role}认为，{opinion}，而{noun}恰好处在这个节点上。",
    "在{event}的一场分论坛上，{person}用“{opinion}”概括了过去一年。",
    "{person}向记者展示了一张表格，上面列着{org}过去{cn}个季度{noun}的{metric}，曲线几乎是一条斜线。",
    "{org}内部把{noun}列为明年的重点项目，负责人是刚从{org}加入的{person}。",
    "有消息称，{org}正在与{org}洽谈{noun}方面的合作，双方均未置评。",
    "{city}的写字楼里，{org}的{noun}团队从年初的{num}人扩张到了现在的两倍。",
    "{person}的判断是，{noun}至少还要{cn}年才能真正跑通商业模式。",
    "{period}，{org}在{noun}上的投入占到研发费用的{pct}，这一比例还在提高。",
    "“{opinion}。”{person}在朋友圈里写道，这条动态很快被行业群转发。",
    "{org}的一份内部邮件显示，{noun}相关部门将在{date}前完成架构调整。",
    "一位{city}的经销商告诉记者，{product}到货后{cn}天就卖完了，补货周期要等到{date}。",
    "{org}股价{date}{up}{pct}，市值重回{money}上方，{media}将其归因于{noun}的预期改善。",
    "与{year}年相比，{noun}的{metric}已经{down}了{pct}，{org}不得不重新调整定价。",
    "{person}把{noun}比作“{opinion}”的生意：前期投入大，回报来得慢。",
    "{hedge}，{org}和{org}的路线差异，本质上是对{noun}未来形态的不同判断。",
    "{org}把{product}的首发城市放在了{city}，理由是当地的{noun}基础更好。",
    "根据{org}披露的口径，{noun}的{metric}统计从{date}起改为按月公布。",
    "{conn}，{role}也指出，{org}在{noun}上的先发优势正在被{org}追赶。",
    "{person}所在的公司上个月裁撤了{noun}小组，把人员并入了{product}项目。",
    "在{media}组织的一场闭门会上，{role}直言“{opinion}”，引发了不少讨论。",
    "{date}晚间，{org}在官方微博发布声明，否认了外界关于{noun}业务出售的传闻。",
    "{city}当地政府为{noun}项目提供了{money}的专项补贴，首批名单中有{org}。",
    "{org}的做法是先在{city}和{city}试点{noun}，跑通之后再向全国复制。",
    "从招聘网站上的信息看，{org}近期密集发布了{num}个与{noun}有关的岗位。",
    "{person}坦言，团队在{noun}上踩过不少坑，最大的教训是“{opinion}”。",
    "{noun}的上游供应商{period}普遍提价{pct}，压力最终传导到了{org}这样的品牌方。",
    "{conn}，{org}在{event}上只字未提{noun}，这被解读为一种谨慎的信号。",
    "{role}提供的一组数据是，{noun}的{metric}每{up}一个百分点，对应约{money}的增量市场。",
    "{org}和{org}在{city}的门店只隔一条街，{noun}的价格差了将近{pct}。",
    "{hedge}，{product}能否成为爆款，取决于{noun}的{metric}能不能继续{up}。",
)

# The default topic: Alibaba's and Tencent's properties and the opening between them.
INTEROP = {
    "org": (
        "淘宝",
        "天猫",
        "支付宝",
        "阿里巴巴",
        "腾讯",
        "微信",
        "闲鱼",
        "淘特",
        "菜鸟",
        "饿了么",
        "高德",
        "微信支付",
        "视频号",
        "腾讯云",
        "阿里云",
        "京东",
        "美团",
    ),
    "noun": (
        "外链直达",
        "微信支付接入",
        "淘宝商品链接",
        "小程序跳转",
        "淘口令分享",
        "互联互通",
        "社群团购",
        "私域运营",
        "收银台改版",
        "担保交易",
        "退款路径",
        "支付费率",
        "群聊分享",
        "朋友圈广告",
        "外部链接管理",
        "平台生态开放",
        "跨平台导流",
        "商家对账",
        "会员体系打通",
        "物流信息同步",
        "客服跳转",
        "优惠券领取",
        "广告分成",
        "数据归属",
    ),
    "metric": (
        "订单占比",
        "转化率",
        "支付成功率",
        "下单未支付比例",
        "客单价",
        "复购率",
        "分享点击量",
        "退款时长",
        "获客成本",
        "新客占比",
    ),
    "act": (
        "宣布微信支付覆盖全部淘宝天猫商家",
        "放开了淘宝商品链接在微信单聊中的直接访问",
        "在收银台首屏加入微信支付选项",
        "测试在微信群聊中直接打开淘宝商品详情页",
        "调整了外部链接的展示规则",
        "上线了淘口令之外的新分享方式",
        "开始在视频号里为淘宝商家提供广告投放",
        "把菜鸟的物流轨迹接入了微信服务通知",
        "回应了外界对互联互通进度的关切",
        "完成了新一轮系统改造以统一退款路径",
    ),
    "act2": (
        "接入微信支付",
        "开通视频号到淘宝的广告链路",
        "调整社群分享策略",
        "申请外链白名单",
        "上线双平台会员",
    ),
    "product": (
        "新版收银台",
        "外链中间页",
        "淘宝小程序",
        "微信支付分期",
        "视频号小店",
        "闲鱼小程序",
        "淘宝直播分享卡片",
        "新版淘口令",
    ),
    "event": (
        "双11商家大会",
        "微信公开课",
        "阿里云栖大会",
        "腾讯全球数字生态大会",
        "一场媒体沟通会",
        "季度财报电话会",
        "工信部的行政指导会",
    ),
    "shop": ("女装淘宝店", "零食天猫店", "家居小店", "农产品网店", "茶叶铺子", "母婴店"),
}
INTEROP_SENTENCES = (
    "{date}，淘宝方面确认，微信支付已覆盖{pct}的天猫商家，消费者在收银台可以直接选择微信付款。",
    "回顾双方的互联互通之路，{year}年工信部要求平台解除对合法外链的屏蔽，此后微信与淘宝之间的门被一点点推开。",
    "在{city}做社群团购的{person}说，过去在微信群里分享淘宝商品要靠淘口令，“每多一步就流失一批人”。",
    "腾讯方面表示，外部链接的展示和跳转要兼顾用户体验与安全规范，相关能力仍在灰度测试中。",
    "一位接近阿里的人士认为，支付是双方都算得清账的门，链接直达则牵涉流量怎么分、内容生态怎么管。",
    "对依赖社交分享的中小商家来说，他们在意的早已不是淘宝链接在微信里能不能打开，而是打开之后还要多走几步。",
    "{org}与{org}的这次破冰，被不少商家看作拆墙之后最实在的一步。",
    "淘宝商品链接在微信朋友圈里仍以折叠方式展示，用户想下单还得复制口令或者跳转浏览器。",
    "业内普遍认为，阿里需要微信的社交流量，腾讯则希望微信支付覆盖更多消费场景，双方利益的交集决定了开放的节奏。",
    "{person}的店铺接入微信支付后，{metric}从开通首月的{pct}慢慢爬到了{pct2}。",
    "平台之间无正当理由限制、屏蔽其他经营者合法提供的服务，一直是反垄断执法关注的行为。",
    "支付宝在花呗、信用购等金融服务上的积累，仍是微信支付短期内难以替代的。",
)
INTEROP_TITLES = (
    "淘宝接入微信支付{years}年，{shop}算了{cn}笔账",
    "微信放开淘宝商品链接：{noun}还差最后一公里",
    "从“屏蔽网址链接”到{noun}：阿里与腾讯的{years}年",
    "{org}全量接入微信支付，{org}同步开放",
    "微信内测直接打开淘宝链接，外链规则再松绑",
    "互联互通之后，{shop}的{metric}变了多少",
    "支付先于链接打通：淘宝与微信之间那道门的第{cn}步",
    "双11观察：淘宝上微信支付{metric}升至{pct}",
)

BEATS: dict[str, dict[str, tuple[str, ...]]] = {
    "ev": {
        "org": (
            "比亚迪",
            "宁德时代",
            "蔚来",
            "理想汽车",
            "小鹏汽车",
            "零跑",
            "吉利",
            "长安汽车",
            "广汽埃安",
            "赣锋锂业",
            "国轩高科",
            "亿纬锂能",
        ),
        "noun": (
            "固态电池",
            "半固态电池",
            "中试线",
            "硫化物电解质",
            "换电站",
            "超充桩",
            "整车平台",
            "热管理系统",
            "动力电池回收",
            "储能电芯",
            "碳酸锂",
            "电池包结构",
            "智能驾驶芯片",
            "城市NOA",
        ),
        "metric": (
            "装车量",
            "能量密度",
            "良率",
            "单瓦时成本",
            "交付量",
            "毛利率",
            "续航里程",
            "充电时长",
        ),
        "act": (
            "宣布新一条固态电池中试线投产",
            "下调了旗下车型的指导价",
            "公布了第三季度的交付数据",
            "与一家电池企业签下长期供货协议",
            "推出了新一代纯电平台",
        ),
        "act2": ("建设电池中试线", "发布新车型", "布局换电网络", "扩产储能电芯", "投资锂矿"),
        "product": (
            "麒麟电池",
            "刀片电池",
            "神行超充电池",
            "第二代纯电平台",
            "800V高压平台",
            "城市领航辅助",
        ),
        "event": ("广州车展", "世界动力电池大会", "一场新车发布会", "中国电动汽车百人会"),
        "shop": ("4S店", "换电站", "汽车改装店", "充电场站"),
    },
    "ai": {
        "org": (
            "百度",
            "字节跳动",
            "月之暗面",
            "智谱",
            "百川智能",
            "MiniMax",
            "深度求索",
            "商汤",
            "科大讯飞",
            "阿里云",
            "腾讯混元",
            "昆仑万维",
        ),
        "noun": (
            "大模型推理",
            "多模态模型",
            "智能体",
            "代码助手",
            "长文本",
            "模型蒸馏",
            "算力租赁",
            "开源模型",
            "端侧模型",
            "向量数据库",
            "训练集群",
            "合成数据",
        ),
        "metric": (
            "调用量",
            "每千次调用成本",
            "日活用户",
            "推理延迟",
            "上下文长度",
            "付费转化率",
            "GPU利用率",
        ),
        "act": (
            "集体下调了推理价格",
            "开源了新一代基础模型",
            "发布了面向企业的智能体平台",
            "宣布完成新一轮融资",
            "公布了模型在多项评测中的成绩",
        ),
        "act2": ("发布大模型", "下调推理价格", "开源模型权重", "上线智能体", "采购算力"),
        "product": ("文心大模型", "豆包", "Kimi", "GLM", "混元", "通义千问", "星火"),
        "event": ("世界人工智能大会", "一场开发者大会", "中关村论坛", "云栖大会的AI分论坛"),
        "shop": ("AI应用创业公司", "算力中心", "数据标注公司", "模型外包团队"),
    },
    "chip": {
        "org": (
            "中芯国际",
            "华虹半导体",
            "长江存储",
            "长鑫存储",
            "韦尔股份",
            "兆易创新",
            "北方华创",
            "中微公司",
            "寒武纪",
            "海光信息",
            "紫光展锐",
            "士兰微",
        ),
        "noun": (
            "成熟制程",
            "先进封装",
            "存储芯片",
            "刻蚀设备",
            "光刻胶",
            "晶圆代工",
            "车规级芯片",
            "功率半导体",
            "Chiplet",
            "EDA工具",
            "碳化硅衬底",
            "HBM",
        ),
        "metric": ("产能利用率", "晶圆出货量", "库存周转天数", "国产化率", "毛利率", "资本开支"),
        "act": (
            "上调了部分成熟制程的代工报价",
            "宣布新建一座十二英寸晶圆厂",
            "披露了先进封装产线的最新进展",
            "公布了第三季度的营收指引",
            "获得了一家车企的芯片订单",
        ),
        "act2": ("扩建晶圆厂", "发布新一代芯片", "进入车企供应链", "完成IPO", "布局先进封装"),
        "product": ("十二英寸晶圆", "车规级MCU", "DDR5内存颗粒", "刻蚀机", "图像传感器"),
        "event": ("SEMICON China", "一场行业峰会", "集成电路产业年会", "业绩说明会"),
        "shop": ("芯片分销商", "封测厂", "设计公司", "设备零部件厂"),
    },
    "robot": {
        "org": (
            "优必选",
            "宇树科技",
            "智元机器人",
            "傅利叶",
            "小米",
            "追觅",
            "石头科技",
            "科沃斯",
            "埃斯顿",
            "汇川技术",
            "大疆",
            "极智嘉",
        ),
        "noun": (
            "人形机器人",
            "灵巧手",
            "谐波减速器",
            "具身智能",
            "扫地机器人",
            "工业机械臂",
            "仓储机器人",
            "伺服电机",
            "机器人关节模组",
            "服务机器人",
            "六维力传感器",
        ),
        "metric": ("出货量", "单台成本", "订单金额", "故障率", "毛利率", "替代人工数量"),
        "act": (
            "公布了人形机器人的量产计划",
            "宣布其机器人进入汽车工厂实训",
            "发布了新一代灵巧手",
            "拿下了一家物流企业的大额订单",
            "下调了扫地机器人的售价",
        ),
        "act2": ("发布人形机器人", "建设机器人产线", "进入工厂实训", "获得融资", "推出消费级产品"),
        "product": ("Walker S", "H1", "远征A2", "GR-2", "石头G20", "地宝X5"),
        "event": ("世界机器人大会", "一场产品发布会", "汉诺威工业博览会", "机器人产业峰会"),
        "shop": ("汽车总装厂", "物流仓库", "电子代工厂", "家电卖场"),
    },
    "phone": {
        "org": (
            "华为",
            "小米",
            "OPPO",
            "vivo",
            "荣耀",
            "苹果",
            "三星",
            "传音",
            "一加",
            "真我",
            "魅族",
            "联想",
        ),
        "noun": (
            "折叠屏手机",
            "卫星通信",
            "影像模组",
            "端侧AI",
            "快充技术",
            "高端机型",
            "以旧换新",
            "国补政策",
            "可穿戴设备",
            "平板电脑",
            "屏幕供应链",
            "自研芯片",
        ),
        "metric": ("出货量", "市场份额", "激活量", "平均售价", "库存水平", "线上销量"),
        "act": (
            "发布了新一代折叠屏手机",
            "公布了第三季度的出货数据",
            "下调了旗舰机型的售价",
            "宣布进入一个新的海外市场",
            "推出了支持卫星通信的新机",
        ),
        "act2": ("发布新机", "下调售价", "进入海外市场", "加码研发", "扩充线下门店"),
        "product": ("Mate系列", "小米15", "Find X8", "X200", "Magic7", "iPhone 17"),
        "event": ("一场新品发布会", "中国移动全球合作伙伴大会", "开发者大会", "双11预售"),
        "shop": ("手机卖场", "运营商营业厅", "品牌体验店", "二手手机回收店"),
    },
    "content": {
        "org": (
            "抖音",
            "快手",
            "爱奇艺",
            "优酷",
            "芒果TV",
            "B站",
            "红果短剧",
            "点众科技",
            "中文在线",
            "阅文集团",
            "小红书",
            "知乎",
        ),
        "noun": (
            "短剧",
            "微短剧",
            "投流",
            "付费点播",
            "广告分账",
            "网文改编",
            "竖屏剧",
            "AI漫剧",
            "出海短剧",
            "直播带货",
            "内容审核",
            "会员体系",
        ),
        "metric": ("充值流水", "ROI", "完播率", "播放量", "分账收入", "单部成本"),
        "act": (
            "上线了新的短剧分账规则",
            "宣布加码免费短剧",
            "公布了一部爆款短剧的充值流水",
            "调整了投流预算的分配",
            "推出了新的创作者激励计划",
        ),
        "act2": ("入局短剧", "调整分账规则", "加码免费模式", "出海发行", "组建自制团队"),
        "product": ("免费短剧频道", "竖屏剧场", "创作者激励计划", "AI剧本工具", "会员专享剧场"),
        "event": ("一场行业大会", "网络视听大会", "创作者峰会", "年度内容发布会"),
        "shop": ("短剧承制公司", "MCN机构", "投流代理公司", "横店剧组"),
    },
    "local": {
        "org": (
            "美团",
            "饿了么",
            "京东到家",
            "抖音生活服务",
            "盒马",
            "叮咚买菜",
            "朴朴超市",
            "瑞幸",
            "库迪",
            "蜜雪冰城",
            "霸王茶姬",
            "海底捞",
        ),
        "noun": (
            "即时零售",
            "到店团购",
            "外卖骑手",
            "前置仓",
            "社区团购",
            "门店加盟",
            "咖啡价格战",
            "闪电仓",
            "预制菜",
            "会员店",
            "夜间经济",
            "下沉市场",
        ),
        "metric": ("日单量", "客单价", "门店数", "履约成本", "坪效", "加盟商回本周期"),
        "act": (
            "宣布门店数突破新关口",
            "调整了骑手的配送费规则",
            "在{city}开出了第一家旗舰店",
            "下调了部分饮品的价格",
            "推出了新的会员权益",
        ),
        "act2": ("开出新店", "调整配送费", "加码即时零售", "进入下沉市场", "推出会员权益"),
        "product": ("九块九套餐", "闪购频道", "会员日", "拼好饭", "自提柜"),
        "event": ("一场商家大会", "连锁经营年会", "加盟商沟通会", "中国餐饮峰会"),
        "shop": ("咖啡店", "奶茶店", "社区超市", "快餐店"),
    },
    "overseas": {
        "org": (
            "SHEIN",
            "Temu",
            "TikTok Shop",
            "速卖通",
            "安克创新",
            "名创优品",
            "泡泡玛特",
            "传音",
            "米哈游",
            "极兔速递",
            "拼多多",
            "Lazada",
        ),
        "noun": (
            "跨境电商",
            "海外仓",
            "半托管模式",
            "品牌出海",
            "关税政策",
            "东南亚市场",
            "中东市场",
            "独立站",
            "本地化运营",
            "海外支付",
            "跨境物流",
            "合规成本",
        ),
        "metric": ("GMV", "海外营收占比", "退货率", "履约时效", "广告投放回报", "复购率"),
        "act": (
            "宣布在中东开设新的海外仓",
            "调整了半托管模式的佣金",
            "公布了海外业务的最新营收",
            "在东南亚上线了本地支付方式",
            "加码了欧洲市场的广告投放",
        ),
        "act2": ("出海东南亚", "建设海外仓", "上线半托管", "进入中东市场", "调整定价策略"),
        "product": ("半托管频道", "海外旗舰店", "本地仓配服务", "品牌出海计划"),
        "event": ("一场跨境电商峰会", "广交会", "出海论坛", "卖家大会"),
        "shop": ("跨境卖家", "工贸一体工厂", "外贸服装厂", "海外仓服务商"),
    },
    "bank": {
        "org": (
            "招商银行",
            "工商银行",
            "平安银行",
            "微众银行",
            "网商银行",
            "蚂蚁集团",
            "度小满",
            "京东科技",
            "陆金所",
            "东方财富",
            "同花顺",
            "中金公司",
        ),
        "noun": (
            "大额存单",
            "理财产品",
            "消费贷",
            "数字人民币",
            "普惠金融",
            "财富管理",
            "智能投顾",
            "信用卡",
            "跨境理财通",
            "养老金账户",
            "净息差",
            "风控模型",
        ),
        "metric": ("利率", "不良率", "规模", "新增开户数", "净息差", "渗透率"),
        "act": (
            "下调了三年期大额存单利率",
            "上线了新的养老金融产品",
            "公布了第三季度的经营数据",
            "收紧了消费贷的审批标准",
            "推出了面向小微企业的信贷产品",
        ),
        "act2": (
            "下调存款利率",
            "发行理财产品",
            "收紧消费贷",
            "布局养老金融",
            "上线数字人民币场景",
        ),
        "product": (
            "三年期大额存单",
            "现金管理类理财",
            "个人养老金账户",
            "小微贷",
            "数字人民币钱包",
        ),
        "event": ("一场业绩发布会", "金融街论坛", "陆家嘴论坛", "年度投资策略会"),
        "shop": ("银行网点", "券商营业部", "小贷公司", "理财工作室"),
    },
    "games": {
        "org": (
            "网易",
            "米哈游",
            "莉莉丝",
            "鹰角网络",
            "叠纸",
            "完美世界",
            "三七互娱",
            "巨人网络",
            "游戏科学",
            "西山居",
            "心动网络",
            "恺英网络",
        ),
        "noun": (
            "版号",
            "买断制游戏",
            "二次元手游",
            "小游戏",
            "主机游戏",
            "出海发行",
            "游戏引擎",
            "电竞赛事",
            "独立游戏",
            "IP改编",
            "云游戏",
            "防沉迷",
        ),
        "metric": ("流水", "下载量", "首月收入", "留存率", "同时在线人数", "研发成本"),
        "act": (
            "拿到了新一批版号",
            "公布了一款新作的上线日期",
            "宣布旗下游戏在海外登顶畅销榜",
            "关闭了一个长期亏损的工作室",
            "公布了三季度的游戏业务收入",
        ),
        "act2": ("获得版号", "发布新游戏", "出海发行", "关闭工作室", "布局小游戏"),
        "product": ("开放世界新作", "二次元手游", "买断制单机", "小游戏合集", "主机移植版"),
        "event": ("ChinaJoy", "科隆游戏展", "一场发布会", "游戏产业年会"),
        "shop": ("游戏工作室", "发行公司", "电竞俱乐部", "外包美术公司"),
    },
}
BEAT_TITLES = (
    "{org}{act}，{noun}进入新阶段",
    "{noun}的第{cn}年：{org}和{org}的分岔路",
    "{period}{noun}{metric}{up}{pct}，谁在受益",
    "{city}的{shop}，正在被{noun}改变",
    "{org}押注{noun}：{opinion}",
    "从{noun}到{noun}，{org}想讲一个新故事",
    "{noun}降温之后：三家公司把预算挪去了哪里",
    "一家{shop}的{metric}账本",
)
BEAT_SENTENCES = (
    "{org}在{noun}上的布局始于{year}年，彼时{noun}还只是一个小众概念。",
    "{city}的一位{shop}老板说，{noun}让他的{metric}{up}了{pct}，“{opinion}”。",
    "{org}{act}，{role}认为这将倒逼{org}跟进。",
    "围绕{noun}，{org}和{org}已经在{city}展开了正面竞争。",
    "{hedge}，{noun}的{metric}离盈亏平衡点还有{pct}的距离。",
)

# Credit lines of reposts, in the forms the credit-line filter knows (crawler/text.py).
CREDITS = (
    "本文来自微信公众号“{account}”（ID：{account_id}），作者：{person}，{site}经授权发布。",
    "本文由 @{person} 授权发布于{site}，未经许可，禁止转载。",
    "题图来自视觉中国",
    "原标题：{title}",
    "责编：{person}",
)
ACCOUNTS = (
    "潮汐商业评论",
    "零售观察家",
    "科技新知",
    "晚点财经",
    "电商在线",
    "见实",
    "新眸",
    "蓝鲸财经",
    "深燃",
    "豹变",
)

# Invented company and product names: each article has its own cast, as real articles do, so two
# distinct articles share little beyond the language itself. No character here can form a word of
# the topic query (微信, 淘宝, 阿里, 外链, 破冰…).
BRAND_CHARS = _words(
    "星 云 数 智 联 创 极 光 蓝 海 鲸 鹿 禾 芯 元 象 行 知 策 点 桥 峰 川 岳 启 明 源 拓 跃 途 "
    "迹 图 灵 动 衡 石 屿 方 圆 北 南 东 青 橙 果 树 翼 帆 舟 航 轨 码 界 域 维 度 量 矩 阵 森 "
    "林 火 风 雷 影 声 语 意 境 序 格 品 物 造 匠 工 华 瑞 泰 恒 鼎 丰 盛 嘉 悦 安 宏 博 睿 锐"
)
BRAND_SUFFIXES = _words(
    "科技 智能 网络 数据 传媒 资本 电子 动力 健康 供应链 物流 信息 软件 新能源 零售 文化"
)
PRODUCT_SERIES = ("Pro", "Max", "S", "X", "Air", "Plus", "青春版", "旗舰版", "Ultra", "mini")
# How much of each pool one article uses.
CAST = {
    "org": 3,
    "noun": 5,
    "metric": 3,
    "act": 3,
    "act2": 2,
    "product": 1,
    "event": 2,
    "shop": 2,
    "city": 3,
    "media": 3,
    "role": 5,
    "period": 5,
    "opinion": 6,
    "hedge": 4,
    "conn": 4,
}
GENERAL_PER_ARTICLE = 14
OWN_PER_ARTICLE = 3
CAST_PEOPLE = 4
CAST_PERSON_SHARE = 0.75

MIN_PARAGRAPH_SENTENCES = 3
MAX_PARAGRAPH_SENTENCES = 6


@dataclass(frozen=True, slots=True)
class Block:
    """One block of an article body: a paragraph (its sentences), a subheading or an image."""

    kind: str  # "p", "h2" or "img"
    sentences: tuple[str, ...] = ()
    caption: str = ""  # for an image

    @property
    def text(self) -> str:
        return "".join(self.sentences)


@dataclass(frozen=True, slots=True)
class Story:
    """A generated article before any site renders it."""

    title: str
    summary: str
    author: str
    blocks: tuple[Block, ...]
    on_topic: bool
    beat: str
    credit: str = ""  # a repost's credit line, rendered by the site that carries it
    # The article's own cast and sentence frames, so a repost's edits sound like the original.
    vocab: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def text(self) -> str:
        """Plain text, one block a line (what extraction should recover, roughly)."""
        return "\n".join(b.text for b in self.blocks if b.kind != "img")

    @property
    def chars(self) -> int:
        return sum(len(b.text) for b in self.blocks)


class TextGenerator:
    """Articles, headlines and names from one seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # Names and small pieces -----------------------------------------------------------------

    def person(self) -> str:
        given = self.rng.choice(GIVEN) + (self.rng.choice(GIVEN) if self.rng.random() < 0.7 else "")
        return self.rng.choice(SURNAMES) + given

    def headline(self, beat: str | None = None) -> str:
        beat = beat or self.rng.choice(list(BEATS))
        if beat == "interop":
            return self._fill(self.rng.choice(INTEROP_TITLES), INTEROP)
        return self._fill(self.rng.choice(BEAT_TITLES), BEATS[beat])

    def short_line(self, beat: str | None = None) -> str:
        """A one-sentence summary for lists and related-article cards."""
        beat = beat or self.rng.choice(list(BEATS))
        vocab = INTEROP if beat == "interop" else BEATS[beat]
        return self._fill("{hedge}，{noun}的{metric}{up}了{pct}。", vocab)

    def credit(self, site_name: str, title: str) -> str:
        template = self.rng.choice(CREDITS[:2])
        return template.format(
            account=self.rng.choice(ACCOUNTS),
            account_id=f"{self.rng.choice(['biz', 'news', 'tech', 'daily'])}_{self.rng.randrange(100, 999)}",
            person=self.person(),
            site=site_name,
            title=title,
        )

    # Articles -------------------------------------------------------------------------------

    def article(self, *, on_topic: bool, min_chars: int = 1500, max_chars: int = 5000) -> Story:
        """A whole article of min_chars to max_chars characters of body text."""
        beat = "interop" if on_topic else self.rng.choice(list(BEATS))
        target = self.rng.randint(min_chars, max_chars)
        vocab = self._cast(beat)
        blocks: list[Block] = []
        if on_topic:  # the lead names the story, as every real piece on it does
            blocks.append(Block("p", (self._fill(self.rng.choice(INTEROP_SENTENCES), vocab),)))
        size = sum(len(b.text) for b in blocks)
        while size < target:
            if blocks and self.rng.random() < 0.12:
                blocks.append(Block("h2", (self._subheading(vocab),)))
            elif blocks and self.rng.random() < 0.08:
                blocks.append(
                    Block("img", caption=self._fill("{city}一家{shop}的{noun}现场", vocab))
                )
            else:
                blocks.append(Block("p", self._paragraph(vocab)))
            size += len(blocks[-1].text)
        title = self._fill(self.rng.choice(INTEROP_TITLES if on_topic else BEAT_TITLES), vocab)
        summary = self._fill("{hedge}，{noun}{opinion}。", vocab)
        return Story(title, summary, self.person(), tuple(blocks), on_topic, beat, vocab=vocab)

    def repost(self, story: Story, *, edits: int = 3) -> Story:
        """The same article as another outlet carries it: `edits` sentences rewritten."""
        blocks = list(story.blocks)
        paragraphs = [i for i, b in enumerate(blocks) if b.kind == "p" and len(b.sentences) > 1]
        for index in self.rng.sample(paragraphs, min(edits, len(paragraphs))):
            sentences = list(blocks[index].sentences)
            sentences[self.rng.randrange(len(sentences))] = self._sentence(story.vocab)
            blocks[index] = replace(blocks[index], sentences=tuple(sentences))
        return replace(story, blocks=tuple(blocks), author=self.person())

    def _cast(self, beat: str) -> dict[str, tuple[str, ...]]:
        """One article's own slice of the vocabulary, with invented companies and people."""
        pools = {**COMMON, **(INTEROP if beat == "interop" else BEATS[beat])}
        vocab = {
            name: tuple(self.rng.sample(pools[name], min(count, len(pools[name]))))
            for name, count in CAST.items()
        }
        vocab["org"] += (self._company(), self._company())
        vocab["product"] += (self._product(),)
        vocab["noun"] += (self.rng.choice(vocab["noun"]) + self.rng.choice(pools["noun"]),)
        vocab["person"] = tuple(self.person() for _ in range(CAST_PEOPLE))
        own = INTEROP_SENTENCES if beat == "interop" else BEAT_SENTENCES
        vocab["frames"] = tuple(self.rng.sample(GENERAL_SENTENCES, GENERAL_PER_ARTICLE))
        vocab["own_frames"] = tuple(self.rng.sample(own, min(OWN_PER_ARTICLE, len(own))))
        return vocab

    def _company(self) -> str:
        return "".join(self.rng.sample(BRAND_CHARS, 2)) + self.rng.choice(BRAND_SUFFIXES)

    def _product(self) -> str:
        name = "".join(self.rng.sample(BRAND_CHARS, 2))
        return f"{name}{self.rng.randint(2, 12)} {self.rng.choice(PRODUCT_SERIES)}"

    def _paragraph(self, vocab: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        count = self.rng.randint(MIN_PARAGRAPH_SENTENCES, MAX_PARAGRAPH_SENTENCES)
        return tuple(self._sentence(vocab) for _ in range(count))

    def _sentence(self, vocab: dict[str, tuple[str, ...]]) -> str:
        frames = vocab["own_frames"] if self.rng.random() < 0.25 else vocab["frames"]
        return self._fill(self.rng.choice(frames), vocab)

    def _subheading(self, vocab: dict[str, tuple[str, ...]]) -> str:
        number = CN_DIGITS[self.rng.randrange(9)]
        return self._fill(f"{number}、{{noun}}：{{opinion}}", vocab)

    def _fill(self, template: str, vocab: dict[str, tuple[str, ...]]) -> str:
        out = []
        rest = template
        while "{" in rest:
            head, _, tail = rest.partition("{")
            name, _, rest = tail.partition("}")
            out.append(head)
            out.append(self._slot(name, vocab))
        out.append(rest)
        return "".join(out)

    def _slot(self, name: str, vocab: dict[str, tuple[str, ...]]) -> str:
        rng = self.rng
        if name == "person" and (name not in vocab or rng.random() > CAST_PERSON_SHARE):
            return self.person()
        if name in vocab:
            value = rng.choice(vocab[name])
            return self._fill(value, vocab) if "{" in value else value
        if name in COMMON:
            return rng.choice(COMMON[name])
        if name == "date":
            return f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        if name in ("pct", "pct2"):
            return f"{rng.randint(2, 95)}.{rng.randint(0, 9)}%"
        if name == "money":
            return f"{rng.randint(2, 980)}{rng.choice(['亿元', '万元', '亿美元'])}"
        if name == "num":
            return str(rng.randint(12, 4800))
        if name == "ratio":
            return f"{rng.randint(1, 4)}.{rng.randint(1, 9)}"
        if name == "cn":
            return CN_DIGITS[rng.randrange(9)]
        if name == "year":
            return str(rng.randint(2015, 2025))
        if name == "years":
            return CN_DIGITS[rng.randrange(1, 5)]
        raise KeyError(f"template slot {{{name}}} has no values")
