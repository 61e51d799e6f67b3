// Wrangler bundles *.onnx files as Data modules (see wrangler.jsonc `rules`): the bytes arrive
// as an ArrayBuffer import, so the Worker needs no filesystem.
declare module '*.onnx' {
  const bytes: ArrayBuffer;
  export default bytes;
}
