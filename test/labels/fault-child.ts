// The label server as its own process, for the fault test: serves the store at argv[2] and
// forwards its outbox to the receiver URL at argv[3]. Prints "READY <url>" once listening.
import { startForwarder } from '../../src/labels/forwarder';
import { startLabelServer } from '../../src/labels/server';
import { LabelStore } from '../../src/labels/store';

const [dbPath, receiver] = process.argv.slice(2);
const store = new LabelStore(dbPath);
const server = await startLabelServer({ store });
startForwarder({
  store,
  batchSize: 50,
  intervalMs: 20,
  onError: () => {},
  send: async (batch) => {
    const res = await fetch(receiver, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    if (!res.ok) throw new Error(`receiver answered ${res.status}`);
  },
});
process.stdout.write(`READY ${server.url}\n`);
