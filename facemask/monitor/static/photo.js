// The photo page: drop or choose a photo, POST it to the API, show the annotated photo and the faces.
"use strict";
const drop = document.getElementById("drop");
const input = document.getElementById("file");
const statusLine = document.getElementById("status");
const picture = document.getElementById("annotated");
const table = document.getElementById("faces");
const LABELS = { with_mask: "Mask", without_mask: "No mask", mask_worn_incorrectly: "Mask worn incorrectly" };

async function check(file) {
  statusLine.textContent = `Checking ${file.name}…`;
  statusLine.className = "";
  const url = `/api/v1/detect?annotated=true&name=${encodeURIComponent(file.name)}`;
  try {
    const response = await fetch(url, { method: "POST", body: file,
                                        headers: { "Content-Type": file.type || "application/octet-stream" } });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.detail || response.statusText);
    picture.src = answer.annotated_image;
    picture.hidden = false;
    const body = table.tBodies[0];
    body.replaceChildren();
    answer.faces.forEach((face, index) => {
      const row = body.insertRow();
      const probability = face.probabilities[face.label];
      for (const text of [index + 1, LABELS[face.label] || face.label, `${(probability * 100).toFixed(1)} %`,
                          face.box.join(", "), face.score.toFixed(2)]) {
        row.insertCell().textContent = text;
      }
    });
    table.hidden = answer.faces.length === 0;
    statusLine.textContent = `${file.name}: ${answer.width}×${answer.height}, ` +
      `${answer.faces.length} face${answer.faces.length === 1 ? "" : "s"}`;
  } catch (problem) {
    statusLine.textContent = `${file.name}: ${problem.message}`;
    statusLine.className = "error";
  }
}

input.addEventListener("change", () => { if (input.files.length) check(input.files[0]); });
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) check(event.dataTransfer.files[0]);
});
