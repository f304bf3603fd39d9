// Shared by restore.js and save.js: the inputs, and where an entry lives.
const fs = require("fs");
const path = require("path");

function input(name) {
  return (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] || "").trim();
}

function lines(name) {
  return input(name).split("\n").map((line) => line.trim()).filter(Boolean);
}

// An entry is a folder named by its key (made safe), holding each path under its own name.
function entry(key) {
  return path.join(process.env.STAND_IN_CACHE, encodeURIComponent(key));
}

function log(message) {
  console.log(`stand-in cache: ${message}`);
}

module.exports = { fs, path, input, lines, entry, log };
