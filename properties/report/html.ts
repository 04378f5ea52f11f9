/**
 * The failure explorer page: one self-contained HTML file (no external assets, no server) that
 * shows a replayed op log step by step — the op list with the failing op marked, the block map
 * and page-cache state after the selected op, pending I/O, the contract rule, and expected vs
 * actual bytes around the bad offset with the op that wrote each byte. All data is embedded as
 * JSON produced by capture.ts; the script only draws it.
 */
import type { ReportData } from './capture';
import { HEATMAP_CSS, heatMapHtml } from './heatmap';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON safe to embed in a <script> element. */
function embedJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const CSS = `
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:10px 16px;background:#263238;color:#fff}
header h1{font-size:16px;margin:0 0 4px}
header .meta{opacity:.8}
main{display:flex;height:calc(100vh - 64px)}
#ops{width:38%;overflow:auto;border-right:1px solid #ccc;margin:0;padding:0;list-style:none;font:12px/1.5 ui-monospace,monospace}
#ops li{padding:1px 8px 1px 2.5em;text-indent:-1.5em;cursor:pointer;white-space:pre-wrap;overflow-wrap:anywhere}
#ops li:hover{background:#e3f2fd}
#ops li.sel{background:#1976d2;color:#fff}
#ops li.fail{border-left:4px solid #d32f2f;font-weight:bold}
#ops li.fail::after{content:'  \\2190 FAILS HERE';color:#d32f2f}
#ops li.sel.fail::after{color:#ffcdd2}
#ops li.after{opacity:.45}
#detail{flex:1;overflow:auto;padding:10px 16px}
h2{font-size:14px;margin:14px 0 6px}
#map{display:flex;flex-wrap:wrap;gap:1px;max-width:100%}
#map .cell{width:10px;height:14px;position:relative}
#map .eof{outline:2px solid #000;z-index:1}
#map .bad{outline:3px solid #d32f2f;z-index:2}
.h{background:#eceff1}.d{background:#ffb74d}.u{background:#90caf9}.w{background:#43a047}.i{background:#ab47bc}.s{background:#00897b}.c{background:#f06292}
.legend span{display:inline-block;margin-right:10px}.legend i{display:inline-block;width:10px;height:10px;margin-right:3px;vertical-align:middle}
table{border-collapse:collapse;font:12px ui-monospace,monospace}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
.bits span{display:inline-block;width:9px;height:9px;margin-right:1px}
.bD{background:#e53935}.bU{background:#43a047}.b_{background:#cfd8dc}
pre.fail{background:#ffebee;border:1px solid #ef9a9a;padding:8px;white-space:pre-wrap}
.rule{font-size:15px;font-weight:bold;color:#b71c1c}
.diff td.x{background:#ffcdd2;font-weight:bold}
.diff td.badoff{outline:2px solid #d32f2f}
.muted{color:#777}
kbd{border:1px solid #aaa;border-radius:3px;padding:0 3px;background:#fff;color:#222}
.refnote{margin:2px 0 6px;padding:4px 8px;background:#fff8e1;border-left:4px solid #ffb300}
.rule a{color:#b71c1c}
`;

const SCRIPT = `
const D = JSON.parse(document.getElementById('data').textContent);
const ops = document.getElementById('ops');
const detail = document.getElementById('detail');
let cur = D.failingOp ?? D.ops.length;
const CLASS_NAMES = {h:'hole',d:'delalloc',u:'unwritten',w:'written',i:'inline',s:'shared',c:'COW staging'};
function hex(n){return '0x'+n.toString(16);}
function el(tag, attrs, text){const e=document.createElement(tag);for(const k in (attrs||{}))e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
D.ops.forEach((line,i)=>{const li=el('li',{'data-op':String(i+1)},line);if(D.failingOp===i+1)li.classList.add('fail');li.onclick=()=>select(i+1);ops.appendChild(li);});
function stepFor(op){let s=D.steps[0];for(const x of D.steps){if(x.op<=op)s=x;}return s;}
function select(op){
  cur=Math.max(0,Math.min(op,D.ops.length));
  ops.querySelectorAll('li').forEach(li=>{const n=+li.dataset.op;li.classList.toggle('sel',n===cur);li.classList.toggle('after',D.failingOp!==null&&n>D.failingOp);});
  const sel=ops.querySelector('li.sel');if(sel)sel.scrollIntoView({block:'nearest'});
  render();
}
function render(){
  detail.textContent='';
  const s=stepFor(cur);
  detail.appendChild(el('h2',{},cur===0?'Before the first op':'After op '+cur+(D.failingOp===cur?' (the failing op)':'')));
  if(D.failure&&D.failingOp===cur){
    const r=el('div',{class:'rule',id:'rule'});
    if(D.failure.kind==='contract'&&D.failure.rule){r.appendChild(document.createTextNode('Contract rule '));}
    else r.appendChild(document.createTextNode('Failure: '+D.failure.kind+(D.failure.rule?' (':'')));
    if(D.failure.rule){const a=el('a',{href:D.failure.ruleUrl||'#',title:'what the rule says'},D.failure.rule);r.appendChild(a);}
    if(D.failure.kind==='contract'&&D.failure.rule)r.appendChild(document.createTextNode(' violated'));
    else r.appendChild(document.createTextNode((D.failure.rule?')':'')+(D.failure.offset!==null?' at offset '+hex(D.failure.offset):'')));
    detail.appendChild(r);
    detail.appendChild(el('pre',{class:'fail',id:'failure'},D.failure.lines.join('\\n')));
  }
  if(!s){detail.appendChild(el('p',{class:'muted'},'No model state recorded.'));return;}
  detail.appendChild(el('div',{class:'muted'},'i_size '+hex(s.size)+' ('+s.size+' bytes); block size '+D.geometry.blockSize+'; '+(s.scale>1?s.scale+' blocks per cell; ':'')+'state from '+(D.stateFrom==='target'?'the target':'a reference replay')));
  detail.appendChild(el('h2',{},'Block map'+(D.stateFrom==='target'?'':' (reference replay)')));
  if(D.stateFrom!=='target')detail.appendChild(el('div',{class:'refnote',id:'refnote'},'This map is the reference filesystem\\'s, replaying the same ops: what a correct filesystem would hold here, not what '+D.adapter+' holds.'));
  const lg=el('div',{class:'legend'});for(const k in CLASS_NAMES){const sp=el('span');sp.appendChild(el('i',{class:k}));sp.appendChild(document.createTextNode(CLASS_NAMES[k]));lg.appendChild(sp);}
  const eofSp=el('span',{},'black outline: EOF block');lg.appendChild(eofSp);if(D.bytes){lg.appendChild(el('span',{},'red outline: failing offset'));}
  detail.appendChild(lg);
  const map=el('div',{id:'map'});
  const bs=D.geometry.blockSize;const eofCell=Math.floor(Math.max(0,s.size-1)/bs/s.scale);
  const badCell=D.bytes&&D.failingOp!==null&&cur>=D.failingOp?Math.floor(D.bytes.offset/bs/s.scale):-1;
  for(let c=0;c<s.cells.length;c++){const k=s.cells[c];const d=el('div',{class:'cell '+k,title:'block '+(c*s.scale)+(s.scale>1?'..'+((c+1)*s.scale-1):'')+' ['+hex(c*s.scale*bs)+']: '+CLASS_NAMES[k]});if(c===eofCell&&s.size>0)d.classList.add('eof');if(c===badCell){d.classList.add('bad');d.id='badcell';}map.appendChild(d);}
  detail.appendChild(map);
  detail.appendChild(el('h2',{},'Page cache ('+s.folios.length+' folios)'));
  if(s.folios.length){const t=el('table');const hr=el('tr');['folio','size','flags','blocks (red dirty, green uptodate)'].forEach(h=>hr.appendChild(el('th',{},h)));t.appendChild(hr);
    for(const f of s.folios){const tr=el('tr');tr.appendChild(el('td',{},hex(f.pos)));tr.appendChild(el('td',{},String(f.size)));
      tr.appendChild(el('td',{},[f.uptodate?'uptodate':'!uptodate',f.dirty?'dirty':'clean',f.writeback?'writeback':''].join(' ')));
      const td=el('td',{class:'bits'});if(f.bits){for(const b of f.bits)td.appendChild(el('span',{class:'b'+(b==='.'?'_':b)}));}else td.appendChild(document.createTextNode('(no per-block state)'));tr.appendChild(td);t.appendChild(tr);}
    detail.appendChild(t);} else detail.appendChild(el('p',{class:'muted'},'empty'));
  detail.appendChild(el('h2',{},'Pending I/O'));
  if(s.pending.length){const ul=el('ul');s.pending.forEach(p=>ul.appendChild(el('li',{},p)));detail.appendChild(ul);}else detail.appendChild(el('p',{class:'muted'},'none'));
  if(D.bytes&&D.failingOp===cur){
    const B=D.bytes;detail.appendChild(el('h2',{},'Expected vs actual bytes around '+hex(B.offset)));
    const t=el('table',{class:'diff',id:'diff'});const hr=el('tr');['offset','expected','actual','written by op (mod 256)'].forEach(h=>hr.appendChild(el('th',{},h)));t.appendChild(hr);
    for(let i=0;i<B.expected.length;i++){const off=B.start+i;const e=B.expected[i];const a=B.actual[i];const tr=el('tr');
      const o=el('td',{},hex(off));if(off===B.offset){o.classList.add('badoff');tr.id='badrow';}tr.appendChild(o);
      const te=el('td',{},e===undefined?'':e.toString(16).padStart(2,'0'));const ta=el('td',{},a===undefined?'--':a.toString(16).padStart(2,'0'));
      if(e!==a){te.classList.add('x');ta.classList.add('x');}tr.appendChild(te);tr.appendChild(ta);
      const w=B.writerActual[i];const we=B.writerExpected[i];tr.appendChild(el('td',{},(w===null?'zero/unknown':'op '+w)+(e!==a?' (expected '+(we===null?'zero':'op '+we)+')':'')));t.appendChild(tr);}
    detail.appendChild(t);
  }
}
document.addEventListener('keydown',e=>{
  if(e.key==='ArrowDown'||e.key==='ArrowRight'||e.key==='j'){select(cur+1);e.preventDefault();}
  else if(e.key==='ArrowUp'||e.key==='ArrowLeft'||e.key==='k'){select(cur-1);e.preventDefault();}
  else if(e.key==='Home'){select(0);}else if(e.key==='End'){select(D.ops.length);}
  else if(e.key==='f'&&D.failingOp!==null){select(D.failingOp);}
});
select(cur);
document.body.setAttribute('data-ready','1');
`;

export function renderReport(data: ReportData): string {
  const f = data.failure;
  const summary = f ? `${f.kind}${f.rule ? ` (${f.rule})` : ''} at op ${data.failingOp}` : `passed, ${data.ops.length} ops`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${escapeHtml(data.title)}</title>
<style>${CSS}${data.coverage ? HEATMAP_CSS : ''}</style></head>
<body>
<header><h1>iomap-harness failure explorer — ${escapeHtml(summary)}</h1>
<div class="meta">adapter ${escapeHtml(data.adapter)} · block ${data.geometry.blockSize} · page ${data.geometry.pageSize}${data.geometry.folioSize ? ` · folio ${data.geometry.folioSize}` : ''} · seed ${data.seed} · ${data.ops.length} ops · keys: <kbd>↑</kbd>/<kbd>↓</kbd> step, <kbd>f</kbd> failing op, click an op</div></header>
<main><ol id="ops"></ol><section id="detail"></section></main>${data.coverage ? `\n<section id="coverage" style="padding:10px 16px;border-top:1px solid #ccc"><h2>State coverage of the run</h2>${heatMapHtml(data.coverage)}</section>` : ''}
<script id="data" type="application/json">${embedJson(data)}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
