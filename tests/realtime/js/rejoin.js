// phoenix.js (npm "phoenix") through a server restart, for test_realtime_phoenix_js.py: push and
// reply, a push with no reply timing out, and a log channel that rejoins by itself after the
// reconnect, from the last seq it saw (its join params are a closure, as a resuming client's).
// Usage: node rejoin.js <endpoint ws://host:port/socket> <token> <log topic> <echo topic> <last line>
// Prints one JSON object per line: open, joined (each join of the log topic), reply, timeout,
// log; exits 0 once it has seen <last line> and a reply after the second join, 1 on anything
// unexpected or after 20 s.
"use strict"
const { Socket } = require("phoenix")
const WebSocket = require("ws")

const [endpoint, token, topic, echoTopic, lastLine] = process.argv.slice(2)
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n")
const fail = (why) => { print({ event: "failed", why }); process.exit(1) }
setTimeout(() => fail("timeout"), 20000)

const socket = new Socket(endpoint, {
  transport: WebSocket, params: { token }, heartbeatIntervalMs: 200,
  reconnectAfterMs: () => 100, rejoinAfterMs: () => 100,
})
socket.onOpen(() => print({ event: "open" }))
socket.connect()

let last = 0
let joins = 0
let sawLast = false
let repliedAfterRejoin = false
const finishIfDone = () => {
  if (sawLast && repliedAfterRejoin) socket.disconnect(() => process.exit(0))
}

const echo = socket.channel(echoTopic, {})
echo.join().receive("error", (response) => fail(`echo join refused: ${JSON.stringify(response)}`))

const shout = (n) => {
  echo.push("shout", { n })
    .receive("ok", (response) => {
      print({ event: "reply", response })
      if (joins >= 2) { repliedAfterRejoin = true; finishIfDone() }
    })
    .receive("error", (response) => fail(`push refused: ${JSON.stringify(response)}`))
    .receive("timeout", () => fail(`no reply to shout ${n}`))
}

const logs = socket.channel(topic, () => ({ after: last }))
logs.on("log", (payload) => {
  print({ event: "log", payload })
  if (payload.seq <= last) fail(`seq ${payload.seq} again (last ${last})`)
  last = payload.seq
  if (payload.line === lastLine) { sawLast = true; finishIfDone() }
})
logs.join()
  .receive("ok", (response) => {
    joins += 1
    print({ event: "joined", joins, after: last, response })
    shout(joins)
    if (joins === 1) {
      echo.push("noreply", {}, 300).receive("timeout", () => print({ event: "timeout" }))
    }
  })
  .receive("error", (response) => fail(`join refused: ${JSON.stringify(response)}`))
