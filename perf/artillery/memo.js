// memo.js: Artillery processor for seed.yml; gives each virtual user a unique memo (run tag from
// SEED_TAG, process id, counter) and a receiver among user-0..user-999.
let n = 0;
const tag = process.env.SEED_TAG || 'seed';
function setMemo(context, events, done) {
  n += 1;
  context.vars.memo = `${tag}-${process.pid}-${n}`;
  context.vars.receiverIndex = n % 1000;
  return done();
}
module.exports = { setMemo };
