"""What surrounds an article on a real page: inline scripts, menus, rankings, related cards.

Real Chinese news pages weigh 50–150 KB of which the article is a tenth: a webpack runtime or a
jQuery plugin inlined in the page, analytics and ad loaders, a navigation menu with its
drop-downs, a ranking and a "related" column, comment widgets with their templates, and a footer
of friendly links. The generators in bench/sites.py assemble pages from these pieces and repeat
the list-shaped ones (rankings, related cards, friendly links) until a page reaches its weight.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ANALYTICS_JS = """var _hmt = _hmt || [];
(function() {
  var hm = document.createElement("script");
  hm.src = "https://hm.baidu.com/hm.js?%(key)s";
  var s = document.getElementsByTagName("script")[0];
  s.parentNode.insertBefore(hm, s);
})();
(function(){var bp=document.createElement('script');var curProtocol=window.location.protocol.split(':')[0];if(curProtocol==='https'){bp.src='https://zz.bdstatic.com/linksubmit/push.js';}else{bp.src='http://push.zhanzhang.baidu.com/push.js';}var s=document.getElementsByTagName("script")[0];s.parentNode.insertBefore(bp,s);})();"""

# A webpack 4 runtime as single-page sites inline it before their chunks.
WEBPACK_RUNTIME_JS = """!function(e){function r(r){for(var n,l,f=r[0],i=r[1],p=r[2],c=0,s=[];c<f.length;c++)l=f[c],Object.prototype.hasOwnProperty.call(o,l)&&o[l]&&s.push(o[l][0]),o[l]=0;for(n in i)Object.prototype.hasOwnProperty.call(i,n)&&(e[n]=i[n]);for(a&&a(r);s.length;)s.shift()();return u.push.apply(u,p||[]),t()}function t(){for(var e,r=0;r<u.length;r++){for(var t=u[r],n=!0,f=1;f<t.length;f++){var i=t[f];0!==o[i]&&(n=!1)}n&&(u.splice(r--,1),e=l(l.s=t[0]))}return e}var n={},o={%(chunk)s:0},u=[];function l(r){if(n[r])return n[r].exports;var t=n[r]={i:r,l:!1,exports:{}};return e[r].call(t.exports,t,t.exports,l),t.l=!0,t.exports}l.e=function(e){var r=[],t=o[e];if(0!==t)if(t)r.push(t[2]);else{var n=new Promise((function(r,n){t=o[e]=[r,n]}));r.push(t[2]=n);var u,f=document.createElement("script");f.charset="utf-8",f.timeout=120,l.nc&&f.setAttribute("nonce",l.nc),f.src=function(e){return l.p+"static/js/"+({}[e]||e)+"."+{%(hashes)s}[e]+".chunk.js"}(e);var i=new Error;u=function(r){f.onerror=f.onload=null,clearTimeout(p);var t=o[e];if(0!==t){if(t){var n=r&&("load"===r.type?"missing":r.type),u=r&&r.target&&r.target.src;i.message="Loading chunk "+e+" failed.\\n("+n+": "+u+")",i.name="ChunkLoadError",i.type=n,i.request=u,t[1](i)}o[e]=void 0}};var p=setTimeout((function(){u({type:"timeout",target:f})}),12e4);f.onerror=f.onload=u,document.head.appendChild(f)}return Promise.all(r)},l.m=e,l.c=n,l.d=function(e,r,t){l.o(e,r)||Object.defineProperty(e,r,{enumerable:!0,get:t})},l.r=function(e){"undefined"!=typeof Symbol&&Symbol.toStringTag&&Object.defineProperty(e,Symbol.toStringTag,{value:"Module"}),Object.defineProperty(e,"__esModule",{value:!0})},l.t=function(e,r){if(1&r&&(e=l(e)),8&r)return e;if(4&r&&"object"==typeof e&&e&&e.__esModule)return e;var t=Object.create(null);if(l.r(t),Object.defineProperty(t,"default",{enumerable:!0,value:e}),2&r&&"string"!=typeof e)for(var n in e)l.d(t,n,function(r){return e[r]}.bind(null,n));return t},l.n=function(e){var r=e&&e.__esModule?function(){return e.default}:function(){return e};return l.d(r,"a",r),r},l.o=function(e,r){return Object.prototype.hasOwnProperty.call(e,r)},l.p="https://static.36krcdn.com/36kr-web/",l.oe=function(e){throw console.error(e),e};var f=window.webpackJsonp=window.webpackJsonp||[],i=f.push.bind(f);f.push=r,f=f.slice();for(var p=0;p<f.length;p++)r(f[p]);var a=i;t()}([]);"""

# The kind of jQuery plugin code older sites inline: lazy images, share buttons, a sticky bar.
JQUERY_WIDGETS_JS = """(function($){
  $.fn.lazyload = function(options){
    var settings = $.extend({threshold: 200, effect: "show", attr: "data-original", container: window}, options || {});
    var elements = this, $container = $(settings.container);
    function update(){
      elements.each(function(){
        var $this = $(this);
        if ($this.attr("data-loaded")) { return; }
        var top = $this.offset().top, bottom = $container.scrollTop() + $container.height() + settings.threshold;
        if (top <= bottom) {
          $this.attr("src", $this.attr(settings.attr)).attr("data-loaded", "1");
          if (settings.effect !== "show") { $this.hide()[settings.effect](400); }
        }
      });
    }
    $container.on("scroll resize", function(){ window.requestAnimationFrame ? window.requestAnimationFrame(update) : update(); });
    update();
    return this;
  };
  var share = {
    weibo: function(url, title, pic){ return "https://service.weibo.com/share/share.php?url=" + encodeURIComponent(url) + "&title=" + encodeURIComponent(title) + "&pic=" + encodeURIComponent(pic || ""); },
    qzone: function(url, title){ return "https://sns.qzone.qq.com/cgi-bin/qzshare/cgi_qzshare_onekey?url=" + encodeURIComponent(url) + "&title=" + encodeURIComponent(title); },
    wechat: function(url){ return "https://api.qrserver.com/v1/create-qr-code/?size=200x200&data=" + encodeURIComponent(url); }
  };
  $(document).on("click", "[data-share]", function(e){
    e.preventDefault();
    var type = $(this).data("share"), url = location.href.split("#")[0], title = document.title;
    if (type === "wechat") { $("#share-qrcode").attr("src", share.wechat(url)).closest(".share-pop").fadeIn(200); return; }
    window.open(share[type](url, title, $("meta[property='og:image']").attr("content")), "_blank", "width=600,height=500");
  });
  $(function(){
    $("img.lazy").lazyload({threshold: 300});
    var $bar = $(".fixed-bar"), offset = $bar.length ? $bar.offset().top : 0;
    $(window).on("scroll", function(){ $bar.toggleClass("is-fixed", $(window).scrollTop() > offset); });
    $(".back-top").on("click", function(){ $("html, body").animate({scrollTop: 0}, 300); });
  });
})(jQuery);"""

AD_SLOT_JS = """(function(){
  var slots = %(slots)s;
  window.adQueue = window.adQueue || [];
  for (var i = 0; i < slots.length; i++) {
    window.adQueue.push({id: slots[i].id, size: slots[i].size, pos: slots[i].pos, lazy: true, refresh: 30});
  }
  var s = document.createElement("script");
  s.async = true;
  s.src = "https://%(host)s/js/ad.min.js?v=%(version)s";
  document.getElementsByTagName("head")[0].appendChild(s);
})();"""

COMMENT_TEMPLATE = """<script type="text/html" id="tpl-comment-item">
<div class="comment-item" data-id="{{id}}">
  <div class="comment-avatar"><img src="{{avatar}}" alt="{{nickname}}"></div>
  <div class="comment-main">
    <div class="comment-meta"><span class="comment-nick">{{nickname}}</span><span class="comment-time">{{time}}</span><span class="comment-location">{{location}}</span></div>
    <div class="comment-content">{{content}}</div>
    <div class="comment-actions"><a href="javascript:;" class="comment-like" data-id="{{id}}">赞 <em>{{likes}}</em></a><a href="javascript:;" class="comment-reply" data-id="{{id}}">回复</a><a href="javascript:;" class="comment-report" data-id="{{id}}">举报</a></div>
    {{#if replies}}<div class="comment-replies">{{#each replies}}<div class="reply-item"><span class="reply-nick">{{nickname}}</span>：{{content}}</div>{{/each}}</div>{{/if}}
  </div>
</div>
</script>
<script type="text/html" id="tpl-comment-empty">
<div class="comment-empty"><p>还没有评论，快来抢沙发吧</p><a href="javascript:;" class="btn-login">登录后发表评论</a></div>
</script>"""


@dataclass(frozen=True, slots=True)
class Card:
    """One related-article or ranking entry."""

    url: str
    title: str
    summary: str
    author: str
    image: str
    time: str


def esc(text: str) -> str:
    """Text escaped for HTML element content and attribute values."""
    return html.escape(text, quote=True)


def script(code: str) -> str:
    return f"<script>\n{code}\n</script>"


def links(
    items: Iterable[tuple[str, str]], *, item: str = '<a href="{url}" target="_blank">{text}</a>'
) -> str:
    """Anchors, one after another (friendly links, menus)."""
    return "".join(item.format(url=esc(url), text=esc(text)) for url, text in items)


def menu(channels: Sequence[tuple[str, str]], sub: Sequence[Sequence[tuple[str, str]]]) -> str:
    """A navigation bar whose entries open a drop-down of sub-channels."""
    parts = []
    for (url, name), children in zip(channels, sub, strict=True):
        drop = "".join(f'<li><a href="{esc(u)}">{esc(t)}</a></li>' for u, t in children)
        parts.append(
            f'<li class="nav-item"><a class="nav-link" href="{esc(url)}">{esc(name)}</a>'
            f'<ul class="nav-drop">{drop}</ul></li>'
        )
    return f'<ul class="nav-list">{"".join(parts)}</ul>'


def friendly_links(pairs: Sequence[tuple[str, str]]) -> str:
    """The footer's 友情链接 block every Chinese portal carries."""
    return (
        '<div class="friend-links"><span class="friend-title">友情链接：</span>'
        + links(pairs)
        + "</div>"
    )
