package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/inventory"
)

// upload posts a multipart form to path: the fields, and file as the
// field "file" (none when file is nil).
func (p *pageClient) upload(path string, fields map[string]string, file []byte) (*http.Response, string) {
	p.e.t.Helper()
	return p.postMultipart(path, fields, "file", "devices.csv", file)
}

// postMultipart posts a multipart form to path as a browser does: the
// fields, and file as the file field named field (none when file is nil).
func (p *pageClient) postMultipart(path string, fields map[string]string, field, name string, file []byte) (*http.Response, string) {
	p.e.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if file != nil {
		fw, _ := w.CreateFormFile(field, name)
		fw.Write(file)
	}
	w.Close()
	req, _ := http.NewRequest("POST", p.e.base+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := p.c.Do(req)
	if err != nil {
		p.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// deviceCount is how many devices the API lists.
func (e *env) deviceCount(token string) int {
	e.t.Helper()
	return int(e.must(200, token, "GET", "/api/v1/devices?limit=1", nil).JSON(e.t)["total"].(float64))
}

// Each role reaches the devices' pages as its permissions say: staff who
// read devices see the list and a device; only those who manage them add,
// edit, import, print labels and see a device's history; a funder none.
func TestPagesDevicesByRole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		free, lent := e.device(co, "laptop"), e.device(co, "phone")
		loan := e.loan(co, e.referred(sw), lent)
		for _, c := range []struct {
			role                accounts.Role
			list, manage, seeLn int // statuses; seeLn 1 when the loan link shows
		}{
			{accounts.Admin, 200, 200, 1}, {accounts.Coordinator, 200, 200, 1},
			{accounts.SocialWorker, 200, 403, 0}, {accounts.Funder, 403, 403, 0},
		} {
			p, _ := e.signedIn(c.role)
			res, body := p.send("GET", "/devices", nil)
			if res.StatusCode != c.list || (c.list == 200 && (!strings.Contains(body, path(`href="/devices/%d"`, free)) ||
				strings.Contains(body, `href="/devices/new"`) != (c.manage == 200) || strings.Contains(body, `action="/devices/labels"`) != (c.manage == 200))) {
				t.Errorf("%s GET /devices: %d\n%s", c.role, res.StatusCode, body)
			}
			if _, home := p.send("GET", "/", nil); strings.Contains(home, `href="/devices"`) != (c.list == 200) {
				t.Errorf("%s: the nav's link to /devices", c.role)
			}
			res, body = p.send("GET", path("/devices/%d", lent), nil)
			if res.StatusCode != c.list {
				t.Errorf("%s GET a device: %d", c.role, res.StatusCode)
			}
			if c.list == 200 && (strings.Contains(body, path(`href="/loans/%d"`, loan)) != (c.seeLn == 1) ||
				strings.Contains(body, "Taken into the pool") != (c.manage == 200)) {
				t.Errorf("%s's device page (loan link %v, history %v):\n%s", c.role, c.seeLn == 1, c.manage == 200, body)
			}
			for _, get := range []string{"/devices/new", "/devices/import", path("/devices/%d/edit", free)} {
				if res, _ := p.send("GET", get, nil); res.StatusCode != c.manage {
					t.Errorf("%s GET %s: %d, want %d", c.role, get, res.StatusCode, c.manage)
				}
			}
			if c.list == 200 {
				for _, missing := range []string{"/devices/999999", "/devices/abc", "/devices/0"} {
					if res, body := p.send("GET", missing, nil); res.StatusCode != 404 || !strings.Contains(body, "Page not found") {
						t.Errorf("%s GET %s: %d", c.role, missing, res.StatusCode)
					}
				}
			}
			// A form posted by a role that may not is refused, with its
			// token and all.
			token := p.token("/password")
			if c.manage == 403 {
				for _, post := range []string{"/devices", path("/devices/%d", free), "/devices/labels", "/devices/import", "/devices/import/confirm"} {
					if res, _ := p.send("POST", post, url.Values{"_csrf": {token}, "kind": {"phone"}, "make": {"X"}, "model": {"Y"}, "serial": {"Z"}, "ids": {strconv.FormatInt(free, 10)}}); res.StatusCode != 403 {
						t.Errorf("%s POST %s: %d", c.role, post, res.StatusCode)
					}
				}
			}
		}
		if n := e.deviceCount(co); n != 2 {
			t.Errorf("%d devices after the refused forms", n)
		}
	})
}

// Adding and editing a device: bad input shown in place with the values
// typed, nothing saved; a good form saves and goes to the device's page;
// the same form sent again adds no second device; a form without its
// token changes nothing.
func TestPagesDevicesAddAndEdit(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		fund := e.fundingSource(admin, "City Fund")
		_, co := e.user(accounts.Coordinator)
		p, _ := e.signedIn(accounts.Coordinator)
		form := url.Values{"_csrf": {p.token("/devices/new")}, "kind": {"drone"}, "make": {""}, "model": {"Tab M10"},
			"imei": {"123"}, "purchase_cost": {"lots"}, "serial": {""}, "notes": {strings.Repeat("n", 2001)}, "accessories": {"Charger; " + strings.Repeat("x", 101)}}
		res, body := p.send("POST", "/devices", form)
		for _, field := range []string{"kind", "make", "imei", "purchase_cost", "serial", "accessories", "notes"} {
			if !strings.Contains(body, `id="f-`+field+`-error"`) || !strings.Contains(body, `<a href="#f-`+field+`">`) {
				t.Errorf("no error in place and at the top for %s", field)
			}
		}
		if res.StatusCode != 422 || !strings.Contains(body, `value="Tab M10"`) || !strings.Contains(body, "<title>Error: Add a device") {
			t.Errorf("a bad device: %d\n%s", res.StatusCode, body)
		}
		if n := e.deviceCount(co); n != 0 {
			t.Fatalf("%d devices after a bad form", n)
		}
		form = url.Values{"_csrf": {form.Get("_csrf")}, "kind": {"tablet"}, "make": {"Lenovo"}, "model": {"Tab M10"}, "serial": {"HGT7X2"},
			"condition": {"new"}, "funding_source_id": {strconv.FormatInt(fund, 10)}, "purchase_cost": {"189.99"}, "accessories": {"Charger; Case"}}
		noToken := url.Values{}
		for k, v := range form {
			noToken[k] = v
		}
		noToken.Del("_csrf")
		if res, _ := p.send("POST", "/devices", noToken); res.StatusCode != 403 || e.deviceCount(co) != 0 {
			t.Fatalf("a device form without its token: %d", res.StatusCode)
		}
		res, body = p.send("POST", "/devices", form)
		loc := res.Header.Get("Location")
		if res.StatusCode != 303 || !regexp.MustCompile(`^/devices/\d+$`).MatchString(loc) {
			t.Fatalf("a good device: %d %q\n%s", res.StatusCode, loc, body)
		}
		id, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/devices/"), 10, 64)
		dev := e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t)
		if dev["serial"] != "HGT7X2" || dev["purchase_cost_cents"] != float64(18999) || dev["funding_source"] != "City Fund" ||
			len(dev["accessories"].([]any)) != 2 || !strings.HasPrefix(dev["asset_tag"].(string), "DB-") {
			t.Errorf("the device saved: %v", dev)
		}
		_, page := p.send("GET", loc, nil)
		if !strings.Contains(page, "<h1>Device "+dev["asset_tag"].(string)+"</h1>") || !strings.Contains(page, "$189.99") || !strings.Contains(page, "<li>Case</li>") {
			t.Errorf("the device's page:\n%s", page)
		}
		// Sent again (a double click): refused, one device.
		if res, body := p.send("POST", "/devices", form); res.StatusCode != 409 || !strings.Contains(body, "is already used by another device") || e.deviceCount(co) != 1 {
			t.Errorf("the same device form again: %d, %d devices\n%s", res.StatusCode, e.deviceCount(co), body)
		}

		// Edit: the form holds the device; an emptied tag is refused in
		// place, nothing changed; a new model is saved.
		_, edit := p.send("GET", loc+"/edit", nil)
		if !strings.Contains(edit, `value="Charger; Case"`) || !strings.Contains(edit, `value="189.99"`) || !strings.Contains(edit, `action="`+loc+`"`) {
			t.Errorf("the edit form:\n%s", edit)
		}
		form.Set("asset_tag", "")
		form.Set("model", "Tab M11")
		if res, body := p.send("POST", loc, form); res.StatusCode != 422 || !strings.Contains(body, `id="f-asset_tag-error"`) || !strings.Contains(body, `value="Tab M11"`) {
			t.Errorf("an edit without a tag: %d\n%s", res.StatusCode, body)
		}
		if got := e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t)["model"]; got != "Tab M10" {
			t.Errorf("a refused edit changed the model to %v", got)
		}
		form.Set("asset_tag", "TAB-0101")
		if res, _ := p.send("POST", loc, form); res.StatusCode != 303 || res.Header.Get("Location") != loc {
			t.Errorf("a good edit: %d", res.StatusCode)
		}
		if got := e.must(200, co, "GET", path("/api/v1/devices/%d", id), nil).JSON(t); got["model"] != "Tab M11" || got["asset_tag"] != "TAB-0101" {
			t.Errorf("after the edit: %v", got)
		}
	})
}

// The list's filter and pages, and the labels of ticked devices or of the
// whole list, by the API's label code.
func TestPagesDevicesListAndLabels(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		var phones []int64
		for range 3 {
			phones = append(phones, e.device(co, "phone"))
		}
		laptop := e.device(co, "laptop")
		p, _ := e.signedIn(accounts.Coordinator)
		_, body := p.send("GET", "/devices?kind=phone&limit=2", nil)
		if !strings.Contains(body, path(`href="/devices/%d"`, phones[0])) || strings.Contains(body, path(`href="/devices/%d"`, laptop)) ||
			!strings.Contains(body, "Showing 1 to 2 of 3") || !strings.Contains(body, `href="/devices?kind=phone&amp;limit=2&amp;offset=2"`) {
			t.Errorf("phones, two a page:\n%s", body)
		}
		tag := e.must(200, co, "GET", path("/api/v1/devices/%d", laptop), nil).JSON(t)["asset_tag"].(string)
		if res, _ := p.send("GET", "/devices?q="+strings.ToLower(tag), nil); res.StatusCode != 303 || res.Header.Get("Location") != path("/devices/%d", laptop) {
			t.Errorf("a scanned tag: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		if res, _ := p.send("GET", "/devices?q="+tag[:len(tag)-1], nil); res.StatusCode != 200 {
			t.Errorf("part of a tag: %d", res.StatusCode)
		}
		if res, body := p.send("GET", "/devices?q=a%00b", nil); res.StatusCode != 422 || !strings.Contains(body, "Some details are not right") {
			t.Errorf("a search with a NUL: %d\n%s", res.StatusCode, body[strings.Index(body, "<main"):])
		}
		res, body := p.send("GET", "/devices?status=broken&q=SN", nil)
		if res.StatusCode != 422 || !strings.Contains(body, `id="f-status-error"`) || !strings.Contains(body, `value="SN"`) {
			t.Errorf("a bad filter: %d\n%s", res.StatusCode, body)
		}
		token := p.token("/devices")
		res, body = p.send("POST", "/devices/labels", url.Values{"_csrf": {token}, "ids": {strconv.FormatInt(phones[1], 10), strconv.FormatInt(laptop, 10)}, "paper": {"a4"}})
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF") {
			t.Errorf("labels of two ticked devices: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		api := e.must(200, co, "GET", path("/api/v1/devices/labels.pdf?ids=%d,%d&paper=a4", phones[1], laptop), nil)
		if string(api.Body) != body {
			t.Errorf("the page's labels are not the API's")
		}
		res, body = p.send("POST", "/devices/labels", url.Values{"_csrf": {token}, "kind": {"phone"}, "all": {"1"}})
		api = e.must(200, co, "GET", path("/api/v1/devices/labels.pdf?ids=%d,%d,%d", phones[0], phones[1], phones[2]), nil)
		if res.StatusCode != 200 || string(api.Body) != body {
			t.Errorf("labels of the whole list of phones: %d", res.StatusCode)
		}
		res, body = p.send("POST", "/devices/labels", url.Values{"_csrf": {token}, "kind": {"phone"}})
		if res.StatusCode != 422 || !strings.Contains(body, "tick the devices to label") || !strings.Contains(body, `<option value="phone" selected>`) {
			t.Errorf("labels of nothing: %d\n%s", res.StatusCode, body)
		}
		if res, _ := p.send("POST", "/devices/labels", url.Values{"ids": {strconv.FormatInt(laptop, 10)}}); res.StatusCode != 403 {
			t.Errorf("labels without the token: %d", res.StatusCode)
		}
	})
}

const goodImport = "kind,make,model,serial,asset_tag,accessories\n" +
	"tablet,Lenovo,Tab M10,S-1,IMP-1,Charger\n" +
	"laptop,Dell,Latitude 5400,S-2,,\n" +
	"phone,Moto,G,S-3,IMP-3,\n"

var hiddenImportID = regexp.MustCompile(`name="import_id" value="([^"]*)"`)

// confirmFields are the fields of the preview's confirm form.
func confirmFields(t *testing.T, token, preview string) map[string]string {
	t.Helper()
	id := hiddenImportID.FindStringSubmatch(preview)
	if id == nil {
		t.Fatalf("the preview has no confirm form:\n%s", preview)
	}
	return map[string]string{"_csrf": token, "import_id": id[1]}
}

// The import: a preview lists each row with its problems and saves
// nothing; a good file imports all its devices at once; the confirm sent
// again imports nothing more; a duplicate found at save time saves none;
// a confirm without its token, or with another file, saves nothing.
func TestPagesDevicesImport(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		taken := e.must(200, co, "GET", path("/api/v1/devices/%d", e.device(co, "phone")), nil).JSON(t)["serial"].(string)
		p, _ := e.signedIn(accounts.Coordinator)
		token := p.token("/devices/import")
		_, form := p.send("GET", "/devices/import", nil)
		if !strings.Contains(form, `enctype="multipart/form-data"`) || !strings.Contains(form, "at most 500 KB and 1000 devices") ||
			!strings.Contains(form, "devices-import-template.csv") || !strings.Contains(form, "<code>funding_source</code>") {
			t.Errorf("the import form:\n%s", form)
		}

		bad := "\xef\xbb\xbfkind,make,model,serial,asset_tag\n" +
			"tablet,Lenovo,Tab M10,S-1,IMP-1\n" +
			"drone,Acme,,,\n" +
			"phone,Acme,One," + taken + ",\n"
		res, body := p.upload("/devices/import", map[string]string{"_csrf": token}, []byte(bad))
		if res.StatusCode != 200 || !strings.Contains(body, "Preview: 3 devices, 2 with problems") || strings.Contains(body, `action="/devices/import/confirm"`) ||
			!strings.Contains(body, `<span class="error">kind</span> must be one of`) || !strings.Contains(body, `<span class="error">model</span> is required`) ||
			!strings.Contains(body, `<span class="error">serial</span> is already device`) {
			t.Errorf("the preview of a bad file: %d\n%s", res.StatusCode, body)
		}
		if n := e.deviceCount(co); n != 1 {
			t.Fatalf("%d devices after a preview", n)
		}
		for _, c := range []struct {
			file []byte
			want string
		}{
			{nil, "choose a CSV file"},
			{[]byte("kind,make,model\ntablet,\xff,M\n"), "is not UTF-8 text (line 2)"},
			{[]byte("kind,make,model," + strings.Repeat("x,", 20) + "\n"), "columns; there are only 11"},
			{bytes.Repeat([]byte("a"), inventory.MaxImportBytes+1), "at most 500 KB"},
		} {
			res, body := p.upload("/devices/import", map[string]string{"_csrf": token}, c.file)
			if res.StatusCode != 422 || !strings.Contains(body, `id="f-file-error"`) || !strings.Contains(body, c.want) {
				t.Errorf("a bad file (%s): %d\n%s", c.want, res.StatusCode, body)
			}
		}

		res, body = p.upload("/devices/import", map[string]string{"_csrf": token}, []byte(goodImport))
		if res.StatusCode != 200 || !strings.Contains(body, "Import 3 devices") {
			t.Fatalf("the preview of a good file: %d\n%s", res.StatusCode, body)
		}
		confirm := confirmFields(t, token, body)
		// The preview page carries the import's number, not the file.
		if strings.Contains(body, "Lenovo,Tab M10") || len(body) > 100*1024 {
			t.Errorf("the preview carries the file back (%d bytes)", len(body))
		}
		// Without its token, by another coordinator, or naming no preview:
		// nothing.
		if res, _ := p.upload("/devices/import/confirm", map[string]string{"import_id": confirm["import_id"]}, nil); res.StatusCode != 403 {
			t.Errorf("a confirm without its token: %d", res.StatusCode)
		}
		q, _ := e.signedIn(accounts.Coordinator)
		theirs := map[string]string{"_csrf": q.token("/devices/import"), "import_id": confirm["import_id"]}
		if res, body := q.upload("/devices/import/confirm", theirs, nil); res.StatusCode != 422 || !strings.Contains(body, "is not yours") {
			t.Errorf("another coordinator's confirm: %d\n%s", res.StatusCode, body)
		}
		for _, id := range []string{"", "0", "x", "99999999"} {
			if res, _ := p.upload("/devices/import/confirm", map[string]string{"_csrf": token, "import_id": id}, nil); res.StatusCode != 422 {
				t.Errorf("a confirm of import %q: %d", id, res.StatusCode)
			}
		}
		if n := e.deviceCount(co); n != 1 {
			t.Fatalf("%d devices before the import", n)
		}
		res, _ = p.upload("/devices/import/confirm", confirm, nil)
		if res.StatusCode != 303 || res.Header.Get("Location") != "/devices?imported=3" {
			t.Fatalf("the import: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		if _, list := p.send("GET", "/devices?imported=3", nil); !strings.Contains(list, "3 devices were imported") || !strings.Contains(list, ">IMP-3</a>") {
			t.Errorf("the list after the import:\n%s", list)
		}
		if n := e.deviceCount(co); n != 4 {
			t.Fatalf("%d devices after the import", n)
		}
		// The confirm sent again (a double click, a reload): nothing more.
		res, body = p.upload("/devices/import/confirm", confirm, nil)
		if res.StatusCode != 409 || !strings.Contains(body, "this file was imported already") || e.deviceCount(co) != 4 {
			t.Errorf("the import again: %d, %d devices\n%s", res.StatusCode, e.deviceCount(co), body)
		}
		// Uploaded again, the preview says so and offers no import.
		if _, body := p.upload("/devices/import", map[string]string{"_csrf": token}, []byte(goodImport)); !strings.Contains(body, "the file was imported before") ||
			strings.Contains(body, `action="/devices/import/confirm"`) {
			t.Errorf("the preview of an imported file:\n%s", body)
		}

		// Funding sources by name: one nobody added is a row's problem;
		// an admin's, in any case, is the device's.
		_, admin := e.user(accounts.Admin)
		e.fundingSource(admin, "City Digital Fund")
		funded := "kind,make,model,serial,funding_source,purchase_cost\ntablet,Acme,T,F-1,city digital fund,$1,189.50\ntablet,Acme,T,F-2,Nope Fund,\n"
		_, body = p.upload("/devices/import", map[string]string{"_csrf": token}, []byte(strings.Replace(funded, "$1,189.50", `"$1,189.50"`, 1)))
		if !strings.Contains(body, "Preview: 2 devices, 1 with problems") || !strings.Contains(body, `<span class="error">funding_source</span> no funding source is named “Nope Fund”`) {
			t.Errorf("the preview of funding sources:\n%s", body)
		}
		_, body = p.upload("/devices/import", map[string]string{"_csrf": token}, []byte(strings.Replace(strings.Replace(funded, "$1,189.50", `"$1,189.50"`, 1), "Nope Fund", "", 1)))
		if res, _ := p.upload("/devices/import/confirm", confirmFields(t, token, body), nil); res.StatusCode != 303 {
			t.Fatalf("the import of funded devices: %d", res.StatusCode)
		}
		dev := e.must(200, co, "GET", "/api/v1/devices?q=F-1", nil).JSON(t)["items"].([]any)[0].(map[string]any)
		if dev["funding_source"] != "City Digital Fund" || dev["purchase_cost_cents"] != float64(118950) {
			t.Errorf("an imported funded device: %v", dev)
		}

		// A device that takes a row's tag between the preview and the
		// import: none of the file's devices are saved, the row is named.
		next := "kind,make,model,serial,asset_tag\ntablet,Acme,T,S-10,NEW-1\ntablet,Acme,T,S-11,NEW-2\n"
		_, body = p.upload("/devices/import", map[string]string{"_csrf": token}, []byte(next))
		confirm = confirmFields(t, token, body)
		e.must(201, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Other", "model": "X", "asset_tag": "NEW-2"})
		res, body = p.upload("/devices/import/confirm", confirm, nil)
		if res.StatusCode != 422 || !strings.Contains(body, "nothing was imported: line 3: asset_tag is already device NEW-2") || e.deviceCount(co) != 7 {
			t.Errorf("an import whose tag was taken: %d, %d devices\n%s", res.StatusCode, e.deviceCount(co), body)
		}
		if r := e.must(200, co, "GET", "/api/v1/devices?q=NEW-1", nil).JSON(t); r["total"] != float64(0) {
			t.Errorf("a device of the refused import was saved")
		}
	})
}

// Two confirms of one preview at the same moment (two tabs, a double
// click the browser sent twice): one imports, the other imports nothing.
func TestPagesDevicesImportTwiceAtOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		p, _ := e.signedIn(accounts.Coordinator)
		token := p.token("/devices/import")
		_, body := p.upload("/devices/import", map[string]string{"_csrf": token}, []byte(goodImport))
		confirm := confirmFields(t, token, body)
		statuses := make(chan int, 2)
		for range 2 {
			go func() {
				res, _ := p.upload("/devices/import/confirm", confirm, nil)
				statuses <- res.StatusCode
			}()
		}
		got := map[int]int{<-statuses: 1}
		got[<-statuses]++
		if got[303] != 1 || got[409] != 1 || e.deviceCount(co) != 3 {
			t.Errorf("two confirms at once: %v, %d devices", got, e.deviceCount(co))
		}
	})
}

// The template offered for download is the one the import reads.
func TestPagesDevicesImportTemplate(t *testing.T) {
	b, err := os.ReadFile("pages/static/devices-import-template.csv")
	if err != nil || !bytes.Equal(b, inventory.ImportTemplate()) {
		t.Errorf("pages/static/devices-import-template.csv is not inventory.ImportTemplate(): %v\n%s", err, b)
	}
	eachEnv(t, func(t *testing.T, e *env) {
		p, _ := e.signedIn(accounts.Coordinator)
		_, page := p.send("GET", "/devices/import", nil)
		href := regexp.MustCompile(`href="(/static/devices-import-template\.csv\?v=\w+)"`).FindStringSubmatch(page)
		if href == nil {
			t.Fatalf("no template link:\n%s", page)
		}
		res, body := p.send("GET", href[1], nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || body != string(inventory.ImportTemplate()) {
			t.Errorf("the template download: %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	})
}
