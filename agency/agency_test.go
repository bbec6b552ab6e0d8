package agency_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/currency"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/agency"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

func logoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for x := 0; x < 40; x++ {
		img.Set(x, 10, color.RGBA{200, 0, 0, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func admin(t *testing.T, db *storage.DB) *accounts.Actor {
	t.Helper()
	u, err := accounts.NewService(db).CreateUser(context.Background(), nil, accounts.NewUser{Email: "ada@agency.test", Name: "Ada",
		Role: accounts.Admin, Password: "a long enough passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	return &accounts.Actor{ID: u.ID, Name: u.Name, Role: accounts.Admin}
}

var defaults = agency.Details{Name: "Northside Lending", Address: "1 Main St", Phone: "312-555-0100",
	Email: "office@northside.test", Currency: currency.CAD, Logo: []byte("setting's logo")}

// Nothing saved: the settings. A save overrides each field typed, an empty
// field keeps the setting, a second instance (another Service on the same
// database) sees the change once its cache is older than MaxAge, and the
// audit log names the fields that changed but not the logo's bytes.
func TestAgencyDetailsOverTheSettings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ad := admin(t, db)
		s := &agency.Service{DB: db, Defaults: defaults}
		other := &agency.Service{DB: db, Defaults: defaults, MaxAge: 50 * time.Millisecond}
		for _, svc := range []*agency.Service{s, other} {
			d, err := svc.Current(ctx)
			if err != nil || d.Name != "Northside Lending" || d.CurrencyCode() != "CAD" || string(d.Logo) != "setting's logo" {
				t.Fatalf("nothing saved: %+v, %v; want the settings", d, err)
			}
		}
		d, err := s.Save(ctx, ad, agency.Input{Name: "Southside Devices", Phone: "312-555-0199", Currency: "eur", Logo: logoPNG(t)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "Southside Devices" || d.Address != "1 Main St" || d.Phone != "312-555-0199" || d.CurrencyCode() != "EUR" ||
			!bytes.HasPrefix(d.Logo, []byte("\x89PNG")) {
			t.Errorf("saved %+v", d)
		}
		if cur, _ := s.Current(ctx); cur.Name != "Southside Devices" {
			t.Errorf("this instance reads %q after the save", cur.Name)
		}
		time.Sleep(60 * time.Millisecond)
		if cur, _ := other.Current(ctx); cur.Name != "Southside Devices" || cur.CurrencyCode() != "EUR" {
			t.Errorf("another instance reads %+v", cur)
		}
		var events []audit.Event
		if err := db.NewSelect().Model(&events).Where("action = ?", "agency_details.updated").Scan(ctx); err != nil || len(events) != 1 {
			t.Fatalf("audit events %v, %v", events, err)
		}
		ch := string(events[0].Changes)
		for _, want := range []string{`"name"`, `"Southside Devices"`, `"phone"`, `"currency"`, `"logo":"replaced"`} {
			if !strings.Contains(ch, want) {
				t.Errorf("audit changes %s lack %s", ch, want)
			}
		}
		if strings.Contains(ch, "address") || strings.Contains(ch, "PNG") || len(ch) > 500 {
			t.Errorf("audit changes %s name an unchanged field or the logo's bytes", ch)
		}

		// The same form sent again: nothing new to record. Then the logo
		// removed: none printed, not even the setting's; kept removed.
		if _, err := s.Save(ctx, ad, agency.Input{Name: "Southside Devices", Phone: "312-555-0199", Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := db.NewSelect().Model((*audit.Event)(nil)).Where("action = ?", "agency_details.updated").Count(ctx); n != 1 {
			t.Errorf("%d audit events after the same form again, want 1", n)
		}
		if d, _ := s.Save(ctx, ad, agency.Input{Name: "Southside Devices", RemoveLogo: true}); d.Logo != nil || d.Phone != "312-555-0100" {
			t.Errorf("logo removed, phone emptied: %+v", d)
		}
		if d, _ := s.Save(ctx, ad, agency.Input{Name: "Southside Devices"}); d.Logo != nil {
			t.Error("the removed logo came back")
		}
	})
}

// Bad input is refused field by field, nothing saved; only an admin saves.
func TestAgencyDetailsRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ad := admin(t, db)
		s := &agency.Service{DB: db, Defaults: defaults}
		_, err := s.Save(ctx, ad, agency.Input{Name: strings.Repeat("n", agency.MaxNameLength+1), Email: "not an email",
			Currency: "ZZZ", Logo: []byte("GIF89a not a png"), Address: "line\none", Phone: "312\xff555"})
		var ae *apperr.Error
		if !apperr.Is(err, apperr.Invalid) || !errorsAs(err, &ae) {
			t.Fatalf("bad input: %v", err)
		}
		for _, f := range []string{"name", "email", "currency", "logo", "address", "phone"} {
			if ae.Fields[f] == "" {
				t.Errorf("no problem named for %s: %v", f, ae.Fields)
			}
		}
		_, err = s.Save(ctx, ad, agency.Input{Logo: make([]byte, agency.MaxLogoBytes+1)})
		if !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a logo over 2 MB: %v", err)
		}
		for _, role := range []accounts.Role{accounts.Coordinator, accounts.SocialWorker, accounts.Funder} {
			if _, err := s.Save(ctx, &accounts.Actor{ID: ad.ID, Role: role}, agency.Input{Name: "X"}); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s saves: %v", role, err)
			}
		}
		if d, _ := s.Current(ctx); d.Name != defaults.Name || d.Email != defaults.Email {
			t.Errorf("something was saved: %+v", d)
		}
		if n, _ := db.NewSelect().Table("agency_details").Count(ctx); n != 0 {
			t.Errorf("%d rows saved", n)
		}
	})
}

func errorsAs(err error, target **apperr.Error) bool { return errors.As(err, target) }
