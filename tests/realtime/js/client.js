// phoenix.js (npm "phoenix") against maxlocal's socket endpoint, for test_realtime_phoenix_js.py.
// Usage: node client.js <endpoint ws://host:port/socket> <token> <log topic> <forbidden topic> <lines>
// Prints one JSON object per line: joined, log (each line received), refused; exits 0 when it
// has seen <lines> log lines and the refusal, 1 on anything unexpected or after 10 s.
"use strict"
const { Socket } = require("phoenix")
const WebSocket = require("ws")

const [endpoint, token, topic, forbidden, wanted] = process.argv.slice(2)
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n")
const fail = (why) => { print({ event: "failed", why }); process.exit(1) }
setTimeout(() => fail("timeout"), 10000)

const socket = new Socket(endpoint, { transport: WebSocket, params: { token }, heartbeatIntervalMs: 200 })
socket.onError((error) => fail(`socket error ${error && error.message}`))
socket.connect()

let lines = 0
let refused = false
const finishIfDone = () => {
  if (lines >= Number(wanted) && refused) socket.disconnect(() => process.exit(0))
}

const logs = socket.channel(topic, { after: 0 })
logs.on("log", (payload) => {
  print({ event: "log", payload })
  lines += 1
  finishIfDone()
})
logs.join()
  .receive("ok", (response) => {
    print({ event: "joined", topic, response })
    const other = socket.channel(forbidden, {})
    other.join()
      .receive("ok", () => fail(`joined ${forbidden}`))
      .receive("error", (response) => {
        print({ event: "refused", topic: forbidden, response })
        other.leave()
        refused = true
        finishIfDone()
      })
  })
  .receive("error", (response) => fail(`join refused: ${JSON.stringify(response)}`))
  .receive("timeout", () => fail("join timeout"))
