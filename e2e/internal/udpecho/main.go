// Command udpecho is the e2e tests' UDP peer, run inside busybox containers
// (Debian's busybox has no UDP server or client): built static, it is
// bind-mounted into the container.
//
//	udpecho serve PORT        answer each datagram on 0.0.0.0:PORT with "echo:<datagram>"
//	udpecho send ADDR:PORT MSG  send MSG, print the answer; exit 1 with no answer within 3 s
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	switch {
	case len(args) == 2 && args[0] == "serve":
		return serve(args[1])
	case len(args) == 3 && args[0] == "send":
		return send(args[1], args[2])
	}
	fmt.Fprintln(os.Stderr, "usage: udpecho serve PORT | udpecho send ADDR:PORT MSG")
	return 2
}

func serve(port string) int {
	pc, err := net.ListenPacket("udp4", "0.0.0.0:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		return 1
	}
	fmt.Println("udpecho: listening on", pc.LocalAddr())
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "udpecho:", err)
			return 1
		}
		fmt.Printf("udpecho: %d bytes from %s\n", n, from)
		if _, err := pc.WriteTo(append([]byte("echo:"), buf[:n]...), from); err != nil {
			fmt.Fprintln(os.Stderr, "udpecho:", err)
		}
	}
}

func send(addr, msg string) int {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		return 1
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		return 1
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		return 1
	}
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpecho:", err)
		return 1
	}
	fmt.Println(string(buf[:n]))
	return 0
}
