package testtools

import "net/http"

// BreakOffAnswer answers the request w serves with partial, the start of
// an HTTP response whose headers announce more body than it holds, and
// closes the connection: an answer cut off mid-body, as when a connection
// breaks. w must be a server's ResponseWriter that can be hijacked.
func BreakOffAnswer(w http.ResponseWriter, partial string) error {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(partial))
	return err
}
