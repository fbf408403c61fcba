// The models page's "Promote to production" buttons: ask for confirmation, then
// POST /api/v1/models/<id>/promote {"stage": "production"} (the same service as the admin and
// the API: the name's previous production version is archived and both changes are audited),
// and show the new stages in the table without a reload. Errors are shown in #promote-status.
(function () {
  "use strict";
  var holder = document.getElementById("models-table");
  var status = document.getElementById("promote-status");
  if (!holder) return;

  function say(message) {
    if (status) status.textContent = message;
  }

  function setStage(row, stage) {
    var cell = row.querySelector(".stage");
    if (cell) {
      cell.textContent = stage;
      cell.className = "stage stage-" + stage;
    }
  }

  function promote(button) {
    var row = button.closest("tr");
    var label = button.getAttribute("data-label");
    var current = holder.querySelector(".stage-production");
    var question = "Promote " + label + " to production?";
    if (current) {
      var name = current.closest("tr").querySelector("th").textContent.trim();
      question += " " + name + " is in production now and will be archived.";
    }
    if (!window.confirm(question)) {
      say("Nothing changed.");
      return;
    }
    button.disabled = true;
    fetch(button.getAttribute("data-promote-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": holder.getAttribute("data-csrf"),
      },
      body: JSON.stringify({ stage: "production" }),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          button.disabled = false;
          say("Not promoted: " + (answer.body.detail || "the server refused it."));
          return;
        }
        holder.querySelectorAll(".stage-production").forEach(function (cell) {
          var other = cell.closest("tr");
          setStage(other, "archived");
          var cellOfButton = other.querySelector("td:last-child");
          if (cellOfButton && !cellOfButton.querySelector("button")) cellOfButton.textContent = "Archived";
        });
        setStage(row, answer.body.stage);
        button.replaceWith(document.createTextNode("In production"));
        say(label + " is in production.");
      })
      .catch(function () {
        button.disabled = false;
        say("Not promoted: the server could not be reached.");
      });
  }

  holder.addEventListener("click", function (event) {
    var button = event.target.closest("button.promote");
    if (button) promote(button);
  });
})();
