// The pipeline benchmark's floor (issue 15): a do-nothing HTTP server, node's `http` module
// answering every request 202 with a JSON body the size of Sluice's ack, once the request's
// body has been read (as an intake must). What Sluice's intake does on top (parse, Redis,
// journal) is measured against it, under the same wrk settings in the same invocation.
//
//   node tests/bench/floor_server.js [PORT]
//
// Listens on 127.0.0.1, on PORT or (default) a free port the kernel picks, and prints
// "PORT <n>" once it listens. Runs until it is signalled.
'use strict';

const http = require('http');

const ack = Buffer.from('{"task_id":"00000000-0000-0000-0000-000000000000","leads":1}');

const server = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
        res.writeHead(202, { 'Content-Type': 'application/json', 'Content-Length': ack.length });
        res.end(ack);
    });
});

server.on('error', (err) => {
    console.error(`floor_server: ${err.message}`);
    process.exit(1);
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
    console.log(`PORT ${server.address().port}`);
});
