"use strict";(self.rspackChunknb2svc_jupyterlab=self.rspackChunknb2svc_jupyterlab||[]).push([[232],{475(e,r,t){var n=t(601),o=t.n(n),a=t(314),c=(t.n(a))()(o());c.push([e.id,`/* nb2svc: flagged cells and the lint panel */
.jp-Cell.nb2svc-flagged {
  border-left: 4px solid var(--jp-warn-color1);
}
.jp-Cell.nb2svc-flagged-error {
  border-left-color: var(--jp-error-color1);
}
.jp-Cell.nb2svc-flagged-info {
  border-left-color: var(--jp-info-color1);
}
.jp-Cell.nb2svc-flagged::after {
  content: attr(data-nb2svc);
  position: absolute;
  top: 2px;
  right: 8px;
  font-size: var(--jp-ui-font-size0);
  padding: 0 4px;
  border-radius: 2px;
  color: var(--jp-ui-inverse-font-color1);
  background: var(--jp-warn-color1);
  pointer-events: none;
  z-index: 2;
}
.jp-Cell.nb2svc-flagged-error::after {
  background: var(--jp-error-color1);
}
.jp-Cell.nb2svc-flagged-info::after {
  background: var(--jp-info-color1);
}
.nb2svc-LintPanel {
  overflow: auto;
  padding: 8px;
  background: var(--jp-layout-color1);
  font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1);
}
.nb2svc-LintPanel .nb2svc-summary {
  margin-bottom: 6px;
}
.nb2svc-diagnostics {
  border-collapse: collapse;
  width: 100%;
}
.nb2svc-diagnostics th,
.nb2svc-diagnostics td {
  text-align: left;
  padding: 2px 6px;
  border-bottom: 1px solid var(--jp-border-color2);
  vertical-align: top;
}
.nb2svc-diagnostic {
  cursor: pointer;
}
.nb2svc-diagnostic:hover {
  background: var(--jp-layout-color2);
}
.nb2svc-severity-error td:nth-child(4) {
  color: var(--jp-error-color1);
  font-weight: bold;
}
.nb2svc-severity-warning td:nth-child(4) {
  color: var(--jp-warn-color1);
}
.nb2svc-convert-result h3 {
  margin: 10px 0 4px;
  font-size: var(--jp-ui-font-size2);
}
.nb2svc-convert-result ul {
  margin: 0;
  padding-left: 18px;
}
`,""]),t.d(r,{},{A:c})},314(e){e.exports=function(e){var r=[];return r.toString=function(){return this.map(function(r){var t="",n=void 0!==r[5];return r[4]&&(t+="@supports (".concat(r[4],") {")),r[2]&&(t+="@media ".concat(r[2]," {")),n&&(t+="@layer".concat(r[5].length>0?" ".concat(r[5]):""," {")),t+=e(r),n&&(t+="}"),r[2]&&(t+="}"),r[4]&&(t+="}"),t}).join("")},r.i=function(e,t,n,o,a){"string"==typeof e&&(e=[[null,e,void 0]]);var c={};if(n)for(var s=0;s<this.length;s++){var i=this[s][0];null!=i&&(c[i]=!0)}for(var l=0;l<e.length;l++){var p=[].concat(e[l]);n&&c[p[0]]||(void 0!==a&&(void 0===p[5]||(p[1]="@layer".concat(p[5].length>0?" ".concat(p[5]):""," {").concat(p[1],"}")),p[5]=a),t&&(p[2]&&(p[1]="@media ".concat(p[2]," {").concat(p[1],"}")),p[2]=t),o&&(p[4]?(p[1]="@supports (".concat(p[4],") {").concat(p[1],"}"),p[4]=o):p[4]="".concat(o)),r.push(p))}},r}},601(e){e.exports=function(e){return e[1]}},72(e){var r=[];function t(e){for(var t=-1,n=0;n<r.length;n++)if(r[n].identifier===e){t=n;break}return t}function n(e,n){for(var o={},a=[],c=0;c<e.length;c++){var s=e[c],i=n.base?s[0]+n.base:s[0],l=o[i]||0,p="".concat(i," ").concat(l);o[i]=l+1;var u=t(p),d={css:s[1],media:s[2],sourceMap:s[3],supports:s[4],layer:s[5]};if(-1!==u)r[u].references++,r[u].updater(d);else{var v=function(e,r){var t=r.domAPI(r);return t.update(e),function(r){r?(r.css!==e.css||r.media!==e.media||r.sourceMap!==e.sourceMap||r.supports!==e.supports||r.layer!==e.layer)&&t.update(e=r):t.remove()}}(d,n);n.byIndex=c,r.splice(c,0,{identifier:p,updater:v,references:1})}a.push(p)}return a}e.exports=function(e,o){var a=n(e=e||[],o=o||{});return function(e){e=e||[];for(var c=0;c<a.length;c++){var s=t(a[c]);r[s].references--}for(var i=n(e,o),l=0;l<a.length;l++){var p=t(a[l]);0===r[p].references&&(r[p].updater(),r.splice(p,1))}a=i}}},659(e){var r={};e.exports=function(e,t){var n=function(e){if(void 0===r[e]){var t=document.querySelector(e);if(window.HTMLIFrameElement&&t instanceof window.HTMLIFrameElement)try{t=t.contentDocument.head}catch(e){t=null}r[e]=t}return r[e]}(e);if(!n)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");n.appendChild(t)}},540(e){e.exports=function(e){var r=document.createElement("style");return e.setAttributes(r,e.attributes),e.insert(r,e.options),r}},56(e,r,t){e.exports=function(e){var r=t.nc;r&&e.setAttribute("nonce",r)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var r=e.insertStyleElement(e);return{update:function(t){var n,o,a;n="",t.supports&&(n+="@supports (".concat(t.supports,") {")),t.media&&(n+="@media ".concat(t.media," {")),(o=void 0!==t.layer)&&(n+="@layer".concat(t.layer.length>0?" ".concat(t.layer):""," {")),n+=t.css,o&&(n+="}"),t.media&&(n+="}"),t.supports&&(n+="}"),(a=t.sourceMap)&&"u">typeof btoa&&(n+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),e.styleTagTransform(n,r,e.options)},remove:function(){var e;null===(e=r).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,r){if(r.styleSheet)r.styleSheet.cssText=e;else{for(;r.firstChild;)r.removeChild(r.firstChild);r.appendChild(document.createTextNode(e))}}},579(e,r,t){var n=t(72),o=t.n(n),a=t(825),c=t.n(a),s=t(659),i=t.n(s),l=t(56),p=t.n(l),u=t(540),d=t.n(u),v=t(113),f=t.n(v),b=t(475),g={};g.styleTagTransform=f(),g.setAttributes=p(),g.insert=i().bind(null,"head"),g.domAPI=c(),g.insertStyleElement=d(),o()(b.A,g),b.A&&b.A.locals&&b.A.locals}}]);