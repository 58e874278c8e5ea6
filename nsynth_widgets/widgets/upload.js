// Front end of nsynth_widgets.widgets.upload.Upload: pick files, send each as its own binary
// message, and hold back (sending only its name and size) any file over max_bytes, so that the
// server can say why instead of the websocket dropping a message over its limit.

function render({ model, el }) {
  const input = document.createElement("input");
  input.type = "file";
  input.style.display = "none";
  const button = document.createElement("button");
  button.className = "jupyter-button widget-upload nsynth-upload-button";
  const label = document.createElement("span");
  label.className = "nsynth-upload-status";
  label.style.marginLeft = "0.5em";
  el.append(input, button, label);

  const sync = () => {
    input.accept = model.get("accept");
    input.multiple = model.get("multiple");
    button.textContent = model.get("description");
  };
  sync();
  model.on("change", sync);

  button.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = ""; // the same file can be picked again
    const maxFiles = model.get("multiple") ? model.get("max_files") : 1;
    if (files.length > maxFiles) {
      label.textContent = "";
      model.send({ type: "too_many", count: files.length });
      return;
    }
    const maxBytes = model.get("max_bytes");
    for (const [index, file] of files.entries()) {
      const header = { type: "file", name: file.name, size: file.size, index, count: files.length };
      if (file.size > maxBytes) {
        model.send(header); // no content: the server says it is over the limit
        continue;
      }
      label.textContent = `sending ${file.name} (${(file.size / 2 ** 20).toFixed(1)} MB)…`;
      const buffer = await file.arrayBuffer();
      model.send(header, undefined, [buffer]);
    }
    label.textContent = "";
  });
  model.on("msg:custom", (message) => { if (message.type === "status") label.textContent = message.text; });
}

export default { render };
