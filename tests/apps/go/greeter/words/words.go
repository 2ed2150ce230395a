// Package words is the greeter's dependency: a module of its own.
package words

// Greeting is what the greeter prints.
func Greeting(who string) string { return "hello, " + who }
