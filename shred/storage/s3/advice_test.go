package s3

import (
	"os/exec"
	"strings"
	"testing"
)

// The advice for a refused deletion names a command the compliance
// officer may paste: a key with spaces, quotes or shell syntax in it (a
// registration can name any key) stays one argument, and the pasted line
// runs that one command only.
func TestRefusedAdviceQuotesEveryArgument(t *testing.T) {
	o := object{bucket: "backups", key: "casework/db dump'; echo INJECTED; x.tar.age"}
	advice := refusedAdvice(o, "V1")
	start, end := strings.Index(advice, "(aws "), strings.Index(advice, " Status=OFF)")
	if start < 0 || end < 0 {
		t.Fatalf("no command in the advice: %s", advice)
	}
	line := "printf '%s\\n' " + strings.TrimPrefix(advice[start+1:end+len(" Status=OFF")], "aws ")
	out, err := exec.Command("sh", "-c", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{"s3api", "put-object-legal-hold", "--bucket", "backups", "--key", o.key, "--version-id", "V1", "--legal-hold", "Status=OFF"}
	if strings.Join(args, "|") != strings.Join(want, "|") {
		t.Fatalf("the pasted command's arguments:\n%q\nwant\n%q", args, want)
	}
}
