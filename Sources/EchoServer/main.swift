import NetCore

let server = Net.createServer { socket in
    print("connected")
    socket.on(.data) { chunk in
        print("\(chunk) from \(socket.remoteAddress ?? "") \(socket.remotePort ?? 0)")
        socket.write("Repeating: ", chunk)
    }
    socket.on(.end) { print("client closed connection") }
    socket.on(.error) { error in print(error) }
}
server.listen(port: 8124) { print("listening on port 8124") }
EventLoop.main.run()
