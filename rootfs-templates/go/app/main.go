// The qing sample service in Go: standard library only (net/http, encoding/json), so it
// builds offline into one static binary that needs nothing else in the rootfs.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// reply writes v as JSON and logs the request. Every response goes through here, so
// every request is logged exactly once. os.Stdout is unbuffered in Go: no flush needed.
func reply(w http.ResponseWriter, r *http.Request, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // echo "<" as "<", not "\u003c": this is not HTML
	enc.Encode(v)
	fmt.Printf("%s %s %d\n", r.Method, r.URL.Path, code)
}

func fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	reply(w, r, code, map[string]string{"error": msg})
}

func handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path != "/":
		fail(w, r, http.StatusNotFound, "not found")
	case r.Method == http.MethodGet:
		reply(w, r, http.StatusOK, map[string]string{"runtime": "go", "status": "ok"})
	case r.Method == http.MethodPost:
		post(w, r)
	default:
		fail(w, r, http.StatusMethodNotAllowed, "only GET and POST")
	}
}

func post(w http.ResponseWriter, r *http.Request) {
	// A cap on the body keeps a small board's memory safe from a huge request.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	// UseNumber keeps numbers as written: integers beyond 2^53 stay exact, and the
	// echo gives back 1.50 as 1.50, not as a float64 rendering.
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		fail(w, r, http.StatusBadRequest, "body is not valid JSON: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		fail(w, r, http.StatusBadRequest, "body has data after the JSON value")
		return
	}
	obj, ok := body.(map[string]any)
	if !ok {
		fail(w, r, http.StatusBadRequest, "body must be a JSON object")
		return
	}
	name := "world"
	if v, present := obj["name"]; present {
		if name, ok = v.(string); !ok {
			fail(w, r, http.StatusBadRequest, `"name" must be a string`)
			return
		}
	}
	// big.Int: the sum of integers is exact however large (like Python's int) and
	// still encodes as a plain JSON number.
	sum := new(big.Int)
	if v, present := obj["numbers"]; present {
		list, ok := v.([]any)
		if !ok {
			fail(w, r, http.StatusBadRequest, `"numbers" must be an array of integers`)
			return
		}
		for _, x := range list {
			n, ok := x.(json.Number)
			i, isInt := new(big.Int).SetString(string(n), 10) // rejects 1.5 and 1e3
			if !ok || !isInt {
				fail(w, r, http.StatusBadRequest, fmt.Sprintf(`"numbers" must hold only integers, got %v`, x))
				return
			}
			sum.Add(sum, i)
		}
	}
	reply(w, r, http.StatusOK, map[string]any{
		"runtime": "go", "greeting": "hello, " + name, "sum": sum, "echo": obj,
	})
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	// Listen before announcing, so "listening on" means connections are accepted.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: http.HandlerFunc(handle), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on %s\n", addr)

	// SIGTERM (from the container's init) or SIGINT: stop accepting, let requests in
	// flight finish for at most two seconds, then exit 0.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	done := make(chan struct{})
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(done)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-done
}
