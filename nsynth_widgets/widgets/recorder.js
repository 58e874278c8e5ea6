// Front end of nsynth_widgets.widgets.recorder.Recorder: record the microphone in the browser
// (getUserMedia + MediaRecorder) and send the encoded recording to Python as one binary buffer.

const PREFERRED_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

function pickMimeType() {
  if (typeof MediaRecorder === "undefined" || !MediaRecorder.isTypeSupported) return "";
  return PREFERRED_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || "";
}

function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-button nsynth-recorder-button";
  button.textContent = "● Record";
  const label = document.createElement("span");
  label.className = "nsynth-recorder-status";
  label.style.marginLeft = "0.5em";
  el.append(button, label);

  let recorder = null;
  let stream = null;
  let timer = null;

  const setStatus = (text) => { label.textContent = text; };

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof MediaRecorder === "undefined") {
      setStatus("This browser cannot record here (the page must be served over https or from localhost).");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      setStatus(`No microphone: ${err.message || err.name}`);
      return;
    }
    const mimeType = pickMimeType();
    const chunks = [];
    recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    recorder.ondataavailable = (event) => { if (event.data && event.data.size) chunks.push(event.data); };
    recorder.onstop = async () => {
      clearInterval(timer);
      stream.getTracks().forEach((track) => track.stop());
      const blob = new Blob(chunks, { type: recorder.mimeType || mimeType });
      recorder = null;
      button.textContent = "● Record";
      const buffer = await blob.arrayBuffer();
      setStatus(`sending ${(buffer.byteLength / 1024).toFixed(0)} kB…`);
      model.send({ type: "recording", mime: blob.type }, undefined, [buffer]);
    };
    recorder.start();
    const started = performance.now();
    button.textContent = "■ Stop";
    timer = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      setStatus(`recording… ${seconds.toFixed(1)} s`);
      if (seconds >= model.get("max_seconds")) stop();
    }, 100);
  }

  function stop() {
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }

  button.addEventListener("click", () => (recorder ? stop() : start()));
  model.on("msg:custom", (message) => { if (message.type === "status") setStatus(message.text); });
  return () => {
    clearInterval(timer);
    stop();
  };
}

export default { render };
