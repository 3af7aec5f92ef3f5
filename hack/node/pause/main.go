// Command pause is the pod sandbox's process: it holds the pod's namespaces, sleeping until
// SIGTERM or SIGINT. Built locally and tagged as the upstream pause image, since no
// registry is reachable here (hack/node-up.sh).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
