package pages

import (
	"io"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/agency"
	"github.com/devicebank/devicebank/apperr"
)

// The agency's details, on the agreement terms page: an admin saves them
// over the server's settings (agency.Service.Save, which checks and audits
// them); an empty field keeps the setting. The logo is uploaded as a file
// (multipart), or removed with a check box.

// agencyValues fills the agency form's fields with the details in force.
func agencyValues(f *Form, d agency.Details) {
	f.Values["name"], f.Values["address"], f.Values["phone"], f.Values["email"] = d.Name, d.Address, d.Phone, d.Email
	f.Values["currency"] = d.CurrencyCode()
}

func (p *Pages) saveAgency(c *fiber.Ctx) error {
	f := termsForm()
	in := agency.Input{Name: c.FormValue("name"), Address: c.FormValue("address"), Phone: c.FormValue("phone"),
		Email: c.FormValue("email"), Currency: c.FormValue("currency"), RemoveLogo: c.FormValue("remove_logo") != ""}
	f.Values["name"], f.Values["address"], f.Values["phone"], f.Values["email"], f.Values["currency"] =
		in.Name, in.Address, in.Phone, in.Email, in.Currency
	if in.RemoveLogo {
		f.Values["remove_logo"] = "1"
	}
	var err error
	in.Logo, err = uploadedLogo(c)
	if err == nil {
		_, err = p.svc.Agency.Save(c.UserContext(), Actor(c), in)
	}
	if err != nil {
		d, derr := p.termsData(c, "en")
		if derr != nil {
			return derr
		}
		if d.Current != nil {
			f.Values["body"], f.Values["base"] = d.Current.Body, strconv.Itoa(d.Current.Version)
		} else {
			f.Values["base"] = "0"
		}
		f.Values["language"] = "en"
		return p.showProblem(c, err, "terms", "Agreement terms", f, d)
	}
	return c.Redirect("/agreement/terms?agency=saved#agency", fiber.StatusSeeOther)
}

// uploadedLogo is the form's file "logo", nil when none was chosen.
func uploadedLogo(c *fiber.Ctx) ([]byte, error) {
	fh, err := c.FormFile("logo")
	if err != nil || fh.Size == 0 {
		return nil, nil
	}
	if fh.Size > agency.MaxLogoBytes {
		return nil, apperr.Fields{"logo": "is larger than 2 MB: use a smaller image"}.Err()
	}
	r, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, agency.MaxLogoBytes+1))
}
