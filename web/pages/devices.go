package pages

import (
	"errors"
	"io"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/web/download"
)

// The coordinator's desk: the dashboard (dashboard.go) and the devices'
// pages. A device's identifiers (asset tag, serial) are no client's
// details, so the device list's filter is a GET form and its pages are
// links; every change is a posted form with its CSRF token.

// The import's template is a static asset; its type is said whether or
// not the machine has a mime.types that knows CSV.
func init() { mime.AddExtensionType(".csv", "text/csv; charset=utf-8") }

func (p *Pages) deskRoutes() []Route {
	return []Route{
		{"GET", "/dashboard", accounts.ManageLoans, p.dashboard},
		{"GET", "/devices", accounts.ReadDevices, p.devices},
		{"POST", "/devices", accounts.ManageDevices, p.createDevice},
		{"GET", "/devices/new", accounts.ManageDevices, p.newDevice},
		{"POST", "/devices/labels", accounts.ManageDevices, p.deviceLabels},
		{"GET", "/devices/import", accounts.ManageDevices, p.importForm},
		{"POST", "/devices/import", accounts.ManageDevices, p.importPreview},
		{"POST", "/devices/import/confirm", accounts.ManageDevices, p.importConfirm},
		{"GET", "/devices/:id", accounts.ReadDevices, p.device},
		{"POST", "/devices/:id", accounts.ManageDevices, p.updateDevice},
		{"GET", "/devices/:id/edit", accounts.ManageDevices, p.editDevice},
	}
}

// Choice lists of the devices' forms.
func kindOptions(first string) []Option {
	out := []Option{}
	if first != "" {
		out = append(out, Option{"", first})
	}
	for _, k := range inventory.Kinds {
		out = append(out, Option{string(k), capitalized(string(k))})
	}
	return out
}

func statusOptions() []Option {
	out := []Option{{"", "Any status"}}
	for _, s := range inventory.Statuses {
		out = append(out, Option{string(s), statusName(s)})
	}
	return out
}

func conditionOptions() []Option {
	out := []Option{}
	for _, c := range inventory.Conditions {
		out = append(out, Option{c, capitalized(c)})
	}
	return out
}

func capitalized(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// statusName is a device's status as people say it.
func statusName(s inventory.Status) string {
	return capitalized(strings.ReplaceAll(string(s), "_", " "))
}

// fundingOptions are the funding sources the actor may see, after first;
// none for a role that may not read them.
func (p *Pages) fundingOptions(c *fiber.Ctx, first string) ([]Option, error) {
	a := Actor(c)
	if !a.Can(accounts.ReadFunding) {
		return nil, nil
	}
	sources, _, err := p.svc.Funding.List(c.UserContext(), a, storage.Page{Limit: storage.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	out := []Option{{"", first}}
	for _, s := range sources {
		out = append(out, Option{strconv.FormatInt(s.ID, 10), s.Name})
	}
	return out, nil
}

type devicesData struct {
	Devices  []inventory.Device
	Pager    Pager
	Kinds    []Option
	Statuses []Option
	Funding  []Option
	Manage   bool
	Imported int
	// Filter is the list's filter, which the labels form posts again.
	Filter []hiddenField
}

func devicesFilterForm() *Form {
	return NewForm("kind", "Kind", "status", "Status", "funding_source_id", "Funding source", "q", "Tag, serial, make or model")
}

// devices is the pool, filtered by kind, status, funding source and a
// search of tags, serials, makes and models, a page at a time.
func (p *Pages) devices(c *fiber.Ctx) error {
	f := devicesFilterForm()
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.Query(name))
	}
	return p.deviceList(c, f, c.Query("limit"), c.Query("offset"), nil)
}

// deviceList shows the list the form f asks for; problem, when not nil, is
// what went wrong with the labels form.
func (p *Pages) deviceList(c *fiber.Ctx, f *Form, limit, offset string, problem error) error {
	a := Actor(c)
	d := devicesData{Kinds: kindOptions("Any kind"), Statuses: statusOptions(), Manage: a.Can(accounts.ManageDevices)}
	d.Imported, _ = strconv.Atoi(c.Query("imported"))
	var err error
	if d.Funding, err = p.fundingOptions(c, "Any funding source"); err != nil {
		return err
	}
	filter, pg, err := deviceFilter(f, limit, offset)
	status := fiber.StatusOK
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		status = fiber.StatusUnprocessableEntity
	} else {
		var total int
		if d.Devices, total, err = p.svc.Inventory.ListDevices(c.UserContext(), filter, pg); err != nil {
			return err
		}
		// A tag scanned (or typed) into the search, and nothing else:
		// the device itself.
		if v := f.Values; total == 1 && len(d.Devices) == 1 && problem == nil && v["kind"]+v["status"]+v["funding_source_id"] == "" && strings.EqualFold(d.Devices[0].AssetTag, v["q"]) {
			return c.Redirect("/devices/"+strconv.FormatInt(d.Devices[0].ID, 10), fiber.StatusSeeOther)
		}
		d.Pager = NewPager("/devices", pg, total)
		d.Pager.Hidden = map[string]string{}
		for _, name := range f.Order {
			if v := f.Values[name]; v != "" {
				d.Pager.Hidden[name] = v
				d.Filter = append(d.Filter, hiddenField{name, v})
			}
		}
	}
	if problem != nil {
		if !f.Fail(problem) {
			return problem
		}
		status = apperr.HTTPStatus(apperr.CodeOf(problem))
	}
	return p.render(c, status, "devices", "Devices", f, d)
}

// deviceFilter reads the list's filter, as GET /api/v1/devices does.
func deviceFilter(f *Form, limit, offset string) (inventory.DeviceFilter, storage.Page, error) {
	v := f.Values
	pg, perr := storage.ParsePage(limit, offset)
	filter, ferr := inventory.ParseDeviceFilter(v["status"], v["kind"], v["q"])
	bad := noNUL(f)
	if s := v["funding_source_id"]; s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		bad.Check(err != nil || id < 1, "funding_source_id", "must be a funding source's id")
		filter.FundingSourceID = id
	}
	return filter, pg, apperr.Join(perr, ferr, bad.Err())
}

// deviceLabels prints the labels of the devices ticked in the list, or of
// every device the list's filter finds, by the code of GET
// /api/v1/devices/labels.pdf.
func (p *Pages) deviceLabels(c *fiber.Ctx) error {
	f := devicesFilterForm()
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	var ids []string
	if c.FormValue("all") != "" {
		filter, _, err := deviceFilter(f, "", "")
		if err != nil {
			return p.deviceList(c, f, "", "", err)
		}
		devices, total, err := p.svc.Inventory.ListDevices(c.UserContext(), filter, storage.Page{Limit: inventory.MaxLabels})
		if err != nil {
			return err
		}
		if total > inventory.MaxLabels {
			return p.deviceList(c, f, "", "", apperr.Fields{"ids": "the list has " + strconv.Itoa(total) +
				" devices; labels print for at most " + strconv.Itoa(inventory.MaxLabels) + " at once: narrow the list"}.Err())
		}
		for _, d := range devices {
			ids = append(ids, strconv.FormatInt(d.ID, 10))
		}
	} else {
		args := c.Request().PostArgs()
		for _, v := range args.PeekMulti("ids") {
			ids = append(ids, string(v))
		}
	}
	if len(ids) == 0 {
		return p.deviceList(c, f, "", "", apperr.Fields{"ids": "tick the devices to label, or print the labels of the whole list"}.Err())
	}
	list, paper, err := inventory.ParseLabelRequest(strings.Join(ids, ","), c.FormValue("paper"))
	if err != nil {
		return p.deviceList(c, f, "", "", err)
	}
	pdf, err := p.svc.Inventory.Labels(c.UserContext(), list, paper)
	if err != nil {
		return p.deviceList(c, f, "", "", err)
	}
	return download.PDF(c, "asset-labels", pdf)
}

type deviceData struct {
	Device  *inventory.Device
	Loan    *inventory.Loan
	Manage  bool
	History []audit.Event
	Pager   Pager
}

// device is one device: its details, accessories, its open loan (if the
// actor may see it) and, for those who manage devices, its history.
func (p *Pages) device(c *fiber.Ctx) error {
	a := Actor(c)
	d, err := p.deviceOf(c)
	if err != nil {
		return err
	}
	data := deviceData{Device: d, Manage: a.Can(accounts.ManageDevices)}
	loans, _, err := p.svc.Inventory.ListLoans(c.UserContext(), a, inventory.LoanFilter{DeviceID: d.ID, Status: inventory.LoanOpen}, storage.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(loans) > 0 {
		data.Loan = &loans[0]
	}
	if data.Manage {
		pg, err := storage.ParsePage(c.Query("limit"), c.Query("offset"))
		if err != nil {
			return err
		}
		var total int
		if data.History, total, err = p.svc.Inventory.DeviceHistory(c.UserContext(), d.ID, pg); err != nil {
			return err
		}
		data.Pager = NewPager("/devices/"+strconv.FormatInt(d.ID, 10), pg, total)
	}
	return p.render(c, fiber.StatusOK, "device", "Device "+d.AssetTag, nil, data)
}

// deviceOf is the device of the path's id; a path that names no device is
// the 404 page.
func (p *Pages) deviceOf(c *fiber.Ctx) (*inventory.Device, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id < 1 {
		return nil, fiber.ErrNotFound
	}
	return p.svc.Inventory.Device(c.UserContext(), id)
}

func deviceForm() *Form {
	return NewForm("kind", "Kind", "make", "Make", "model", "Model", "serial", "Serial number", "imei", "IMEI",
		"asset_tag", "Asset tag", "condition", "Condition", "funding_source_id", "Funding source",
		"purchase_cost", "Purchase cost", "accessories", "Accessories", "notes", "Notes")
}

type deviceFormData struct {
	Device     *inventory.Device
	Kinds      []Option
	Conditions []Option
	Funding    []Option
}

func (p *Pages) deviceFormData(c *fiber.Ctx, d *inventory.Device) (deviceFormData, error) {
	fd := deviceFormData{Device: d, Kinds: kindOptions(""), Conditions: conditionOptions()}
	var err error
	fd.Funding, err = p.fundingOptions(c, "None")
	return fd, err
}

func (p *Pages) newDevice(c *fiber.Ctx) error {
	fd, err := p.deviceFormData(c, nil)
	if err != nil {
		return err
	}
	f := deviceForm()
	f.Values["kind"], f.Values["condition"] = "tablet", "good"
	return p.render(c, fiber.StatusOK, "device-form", "Add a device", f, fd)
}

func (p *Pages) editDevice(c *fiber.Ctx) error {
	d, err := p.deviceOf(c)
	if err != nil {
		return err
	}
	fd, err := p.deviceFormData(c, d)
	if err != nil {
		return err
	}
	f := deviceForm()
	v := f.Values
	v["kind"], v["make"], v["model"], v["serial"], v["imei"] = string(d.Kind), d.Make, d.Model, d.Serial, d.IMEI
	v["asset_tag"], v["condition"], v["notes"] = d.AssetTag, d.Condition, d.Notes
	if d.FundingSourceID != nil {
		v["funding_source_id"] = strconv.FormatInt(*d.FundingSourceID, 10)
	}
	if d.PurchaseCostCents != 0 {
		v["purchase_cost"] = dollars(d.PurchaseCostCents)
	}
	names := make([]string, len(d.Accessories))
	for i, a := range d.Accessories {
		names[i] = a.Name
	}
	v["accessories"] = strings.Join(names, "; ")
	return p.render(c, fiber.StatusOK, "device-form", "Edit device "+d.AssetTag, f, fd)
}

// deviceInput reads the device form as the API's DeviceInput; old is the
// device edited (nil for a new one), whose accessories keep their
// replacement costs by name.
func deviceInput(c *fiber.Ctx, f *Form, old *inventory.Device) (inventory.DeviceInput, error) {
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	v := f.Values
	kind := inventory.Kind(v["kind"])
	in := inventory.DeviceInput{Kind: &kind}
	for field, dst := range map[string]**string{"make": &in.Make, "model": &in.Model, "serial": &in.Serial,
		"imei": &in.IMEI, "asset_tag": &in.AssetTag, "condition": &in.Condition, "notes": &in.Notes} {
		s := v[field]
		*dst = &s
	}
	bad := noNUL(f)
	in.FundingSourceID = optional.Field[int64]{Set: true, Null: true}
	if s := v["funding_source_id"]; s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		bad.Check(err != nil || id < 1, "funding_source_id", "must be a funding source")
		in.FundingSourceID = optional.Field[int64]{Set: true, Value: id}
	}
	cents := int64(0)
	if s := v["purchase_cost"]; s != "" {
		var ok bool
		cents, ok = inventory.ParseDollars(s)
		bad.Check(!ok, "purchase_cost", "must be an amount in dollars, such as 189.99")
	}
	in.PurchaseCostCents = &cents
	acc := []inventory.Accessory{}
	for _, name := range strings.Split(v["accessories"], ";") {
		if name = strings.TrimSpace(name); name != "" {
			a := inventory.Accessory{Name: name}
			if old != nil {
				for _, o := range old.Accessories {
					if o.Name == name {
						a.ReplacementCostCents = o.ReplacementCostCents
					}
				}
			}
			acc = append(acc, a)
		}
	}
	in.Accessories = &acc
	// A device needs a tag or a serial here, so that a form sent twice
	// finds the first one's device and adds no second.
	bad.Check(old == nil && v["asset_tag"] == "" && v["serial"] == "", "serial",
		"is required when the asset tag is left for DeviceBank to give: a form sent twice then adds one device, not two")
	if len(bad) == 0 {
		return in, nil
	}
	var base inventory.Device
	if old != nil {
		base = *old
	}
	return in, apperr.Join(bad.Err(), in.CheckOn(base))
}

// noNUL names the form's fields that hold a NUL character, which neither
// database stores in text (the API refuses it as well).
func noNUL(f *Form) apperr.Fields {
	var bad apperr.Fields
	for _, name := range f.Order {
		bad.Check(strings.ContainsRune(f.Values[name], 0), name, "must not contain the NUL character")
	}
	return bad
}

// formFields moves the service's field names to the form's.
func formFields(err error) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Fields) == 0 {
		return err
	}
	out := *ae
	out.Fields = map[string]string{}
	for k, v := range ae.Fields {
		switch {
		case k == "purchase_cost_cents":
			k = "purchase_cost"
		case strings.HasPrefix(k, "accessories"):
			k = "accessories"
		case k == "funding_source":
			k = "funding_source_id"
		}
		if _, ok := out.Fields[k]; !ok {
			out.Fields[k] = v
		}
	}
	return &out
}

func (p *Pages) createDevice(c *fiber.Ctx) error {
	f := deviceForm()
	in, err := deviceInput(c, f, nil)
	var d *inventory.Device
	if err == nil {
		d, err = p.svc.Inventory.CreateDevice(c.UserContext(), Actor(c), in)
	}
	if err != nil {
		return p.deviceFormProblem(c, f, nil, "Add a device", err)
	}
	return c.Redirect("/devices/"+strconv.FormatInt(d.ID, 10), fiber.StatusSeeOther)
}

func (p *Pages) updateDevice(c *fiber.Ctx) error {
	old, err := p.deviceOf(c)
	if err != nil {
		return err
	}
	f := deviceForm()
	in, err := deviceInput(c, f, old)
	if err == nil {
		_, err = p.svc.Inventory.UpdateDevice(c.UserContext(), Actor(c), old.ID, in)
	}
	if err != nil {
		return p.deviceFormProblem(c, f, old, "Edit device "+old.AssetTag, err)
	}
	return c.Redirect("/devices/"+strconv.FormatInt(old.ID, 10), fiber.StatusSeeOther)
}

// deviceFormProblem shows the device form again with what is wrong.
func (p *Pages) deviceFormProblem(c *fiber.Ctx, f *Form, d *inventory.Device, title string, err error) error {
	// An input the service refused on both its own check and the form's
	// is joined: each field shows its problem.
	if !f.Fail(formFields(err)) {
		return err
	}
	fd, ferr := p.deviceFormData(c, d)
	if ferr != nil {
		return ferr
	}
	return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "device-form", title, f, fd)
}

// The import of devices from a CSV file: upload, a preview of every row
// with its problems, then the import of the same bytes (the preview's
// confirm form carries them, base64, with their digest) in one
// transaction.

type importData struct {
	Columns  []inventory.ImportColumn
	MaxKB    int
	MaxRows  int
	Template string
	Plan     *inventory.ImportPlan
	// Rows are the plan's rows the preview shows: those with problems
	// first, at most previewRows; Unshown counts the others.
	Rows    []inventory.ImportRow
	Unshown int
	Already bool
}

// previewRows is the most rows a preview lists, so that the page stays
// light whatever the file's size.
const previewRows = 50

// show picks the rows the preview lists: those with problems first.
func (d *importData) show(plan *inventory.ImportPlan) {
	d.Plan, d.Rows = plan, nil
	for _, bad := range []bool{true, false} {
		for _, r := range plan.Rows {
			if (len(r.Problems) > 0) == bad && len(d.Rows) < previewRows {
				d.Rows = append(d.Rows, r)
			}
		}
	}
	d.Unshown = len(plan.Rows) - len(d.Rows)
}

func importForm() *Form { return NewForm("file", "CSV file") }

func (p *Pages) importData() importData {
	return importData{Columns: inventory.ImportColumns, MaxKB: inventory.MaxImportBytes >> 10, MaxRows: inventory.MaxImportRows,
		Template: p.assetURL("devices-import-template.csv")}
}

func (p *Pages) importForm(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "devices-import", "Import devices", importForm(), p.importData())
}

// importPreview reads the uploaded file and shows every row with its
// problems; nothing is saved.
func (p *Pages) importPreview(c *fiber.Ctx) error {
	f := importForm()
	d := p.importData()
	data, err := uploaded(c)
	var plan *inventory.ImportPlan
	if err == nil {
		plan, err = p.svc.Inventory.PreviewImport(c.UserContext(), Actor(c), data)
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "devices-import", "Import devices", f, d)
	}
	d.show(plan)
	d.Already = plan.AllExisting()
	return p.render(c, fiber.StatusOK, "devices-import", "Import devices: preview", f, d)
}

// uploaded is the file of the form's field "file", at most
// inventory.MaxImportBytes.
func uploaded(c *fiber.Ctx) ([]byte, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, apperr.Fields{"file": "choose a CSV file to upload"}.Err()
	}
	if fh.Size > inventory.MaxImportBytes {
		return nil, apperr.Fields{"file": "is " + strconv.FormatInt((fh.Size+1023)/1024, 10) + " KB; at most " +
			strconv.Itoa(inventory.MaxImportBytes>>10) + " KB at once: split it"}.Err()
	}
	r, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, inventory.MaxImportBytes+1))
}

// importConfirm imports the previewed file, all of it or nothing, and
// goes to the list of devices.
func (p *Pages) importConfirm(c *fiber.Ctx) error {
	f := importForm()
	d := p.importData()
	ctx, a := c.UserContext(), Actor(c)
	id, err := strconv.ParseInt(c.FormValue("import_id"), 10, 64)
	if err != nil || id <= 0 {
		err = apperr.Fields{"file": "the preview to import is not named: upload the file again"}.Err()
	} else {
		var devices []inventory.Device
		if devices, err = p.svc.Inventory.ImportDevices(ctx, a, id); err == nil {
			return c.Redirect("/devices?"+url.Values{"imported": {strconv.Itoa(len(devices))}}.Encode(), fiber.StatusSeeOther)
		}
		// Show the rows as they stand now, with what stopped the import.
		if plan, perr := p.svc.Inventory.PendingImportPlan(ctx, a, id); perr == nil {
			d.show(plan)
			d.Already = plan.AllExisting()
		}
	}
	if !f.Fail(err) {
		return err
	}
	if errors.Is(err, inventory.ErrAlreadyImported) {
		d.Already = true
	}
	return p.render(c, apperr.HTTPStatus(apperr.CodeOf(err)), "devices-import", "Import devices", f, d)
}

func paperOptions() []Option { return []Option{{"letter", "Letter"}, {"a4", "A4"}} }

// eventName is a device's history event as people say it.
func eventName(action string) string {
	names := map[string]string{"device.created": "Taken into the pool", "device.updated": "Details changed",
		"device.inspected": "Inspected", "loan.issued": "Lent", "loan.returned": "Returned", "loan.renewed": "Loan renewed",
		"loan.lost": "Reported lost", "loan.recovered": "Recovered", "device.reserved": "Held for a request",
		"device.released": "No longer held"}
	if n, ok := names[action]; ok {
		return n
	}
	return capitalized(strings.NewReplacer(".", " ", "_", " ").Replace(action))
}
