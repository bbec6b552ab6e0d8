package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/storage/dbtest"
)

func TestRetentionRunCountsThenErases(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := dbtest.FreshURL(t, engine)
			t.Setenv("DATABASE_URL", url)
			if code, _, errOut := runCmd(t, "migrate"); code != 0 {
				t.Fatalf("migrate: %s", errOut)
			}
			db := dbtest.OpenURL(t, url)
			ctx := context.Background()
			old, recent := time.Now().AddDate(0, 0, -100).UTC(), time.Now().AddDate(0, 0, -1).UTC()
			if _, err := db.NewRaw("INSERT INTO sms_inbound (message_sid, received_at) VALUES ('SMold', ?), ('SMnew', ?)", old, recent).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCmd(t, "retention", "run", "--dry-run")
			if code != 0 || !strings.Contains(out, "Would erase 1: sms_replies") || !strings.Contains(out, "Would erase 0: notification_texts") {
				t.Fatalf("dry run: exit %d, %s%s", code, out, errOut)
			}
			code, out, errOut = runCmd(t, "retention", "run")
			if code != 0 || !strings.Contains(out, "Erased 1: sms_replies") {
				t.Fatalf("run: exit %d, %s%s", code, out, errOut)
			}
			var left []string
			if err := db.NewRaw("SELECT message_sid FROM sms_inbound").Scan(ctx, &left); err != nil || len(left) != 1 || left[0] != "SMnew" {
				t.Errorf("left %v, %v; want the recent one", left, err)
			}
		})
	}
}
