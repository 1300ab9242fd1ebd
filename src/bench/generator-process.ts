// A load generator in its own process, driven by the bench runner over IPC, so the
// generator's CPU is measured apart from the server's and from the runner's.
// Messages in: {type:'start', options} {type:'measure'} {type:'stop'}.
// Messages out: {type:'ready'} {type:'result', result} {type:'error', message}.
import { LoadGenerator, type LoadOptions } from './load-generator.ts';

type Message = { type: 'start'; options: LoadOptions } | { type: 'measure' } | { type: 'stop' };

if (!process.send) throw new Error('generator-process runs as a child of the bench runner (fork)');
const reply = (m: unknown) => process.send!(m);
let generator: LoadGenerator | undefined;
process.on('disconnect', () => process.exit(0)); // the runner is gone: so is the load

process.on('message', (m: Message) => {
  void (async () => {
    if (m.type === 'start') {
      generator = new LoadGenerator(m.options);
      await generator.start();
      reply({ type: 'ready' });
    } else if (m.type === 'measure') {
      generator!.measure();
    } else if (m.type === 'stop') {
      reply({ type: 'result', result: await generator!.stop() });
      process.disconnect();
    }
  })().catch((err: Error) => {
    reply({ type: 'error', message: err.message });
    process.disconnect();
  });
});
