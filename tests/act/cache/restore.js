const { fs, path, input, lines, entry, log } = require("./common.js");

const key = input("key");
let found = fs.existsSync(entry(key)) ? key : null;
const hit = found !== null;
if (!hit) {
  const saved = fs.existsSync(process.env.STAND_IN_CACHE)
    ? fs.readdirSync(process.env.STAND_IN_CACHE).map(decodeURIComponent)
    : [];
  for (const prefix of lines("restore-keys")) {
    const matching = saved.filter((name) => name.startsWith(prefix));
    const newest = matching.sort(
      (a, b) => fs.statSync(entry(b)).mtimeMs - fs.statSync(entry(a)).mtimeMs,
    )[0];
    if (newest) {
      found = newest;
      break;
    }
  }
}
if (found !== null) {
  for (const folder of lines("path")) {
    const from = path.join(entry(found), encodeURIComponent(folder));
    if (fs.existsSync(from)) {
      fs.cpSync(from, folder, { recursive: true, preserveTimestamps: true });
    }
  }
}
log(hit ? `hit ${key}` : found !== null ? `restored ${found} for ${key}` : `miss ${key}`);
fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-hit=${hit}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, `hit=${hit}\n`);
