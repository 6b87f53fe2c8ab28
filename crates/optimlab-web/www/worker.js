// The playground's Web Worker: it owns an instance of the optimlab WebAssembly module and
// answers the page's JSON requests one at a time, so training never blocks the page.
"use strict";
let call = null;

function bind(instance) {
  const ex = instance.exports;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return (request) => {
    const bytes = enc.encode(JSON.stringify(request));
    const p = ex.optimlab_alloc(bytes.length);
    new Uint8Array(ex.memory.buffer, p, bytes.length).set(bytes);
    const out = ex.optimlab_call(p, bytes.length);
    const n = new DataView(ex.memory.buffer).getUint32(out, true);
    const text = dec.decode(new Uint8Array(ex.memory.buffer, out + 4, n).slice());
    ex.optimlab_dealloc(out, n + 4);
    return JSON.parse(text);
  };
}

self.onmessage = async (e) => {
  const msg = e.data;
  if (msg.module) {
    const instance = await WebAssembly.instantiate(msg.module, {});
    call = bind(instance);
    self.postMessage({ ready: true });
    return;
  }
  let answer;
  try {
    answer = call(msg.request);
  } catch (err) {
    answer = { error: "the library failed: " + err };
  }
  self.postMessage({ id: msg.id, answer });
};
