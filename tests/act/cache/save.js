const { fs, path, input, lines, entry, log } = require("./common.js");

// Copy each path under `target`, times kept.
function copyPaths(target) {
  fs.mkdirSync(target, { recursive: true });
  for (const folder of lines("path")) {
    if (fs.existsSync(folder)) {
      const to = path.join(target, encodeURIComponent(folder));
      fs.cpSync(folder, to, { recursive: true, preserveTimestamps: true });
    }
  }
}

const key = input("key");
if (process.env.STATE_hit === "true") {
  log(`not saved: ${key} was hit`);
} else {
  copyPaths(entry(key));
  log(`saved ${key}`);
}
// For the test alone (the real action has no such thing): what the paths held when the job
// ended, saved or not, since the job's workspace is gone by the time the test looks.
if (process.env.STAND_IN_CACHE_SEEN) {
  copyPaths(path.join(process.env.STAND_IN_CACHE_SEEN, encodeURIComponent(key)));
}
