package web

import (
	"bytes"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/reports"
	"github.com/devicebank/devicebank/web/download"
)

// reportFormats are the forms the utilization report is answered in.
var reportFormats = []string{"json", "csv", "pdf"}

// utilizationReport answers the utilization report of ?from= to ?to=, as
// JSON (the default), CSV or PDF (?format=).
func (s *Server) utilizationReport(c *fiber.Ctx) error {
	p, err := reports.ParseParams(c.Query("from"), c.Query("to"), c.Query("funding_source_id"), c.Query("kind"), c.Query("postal_prefix"))
	format := c.Query("format", "json")
	if !contains(reportFormats, format) {
		err = apperr.Join(err, apperr.Fields{"format": "must be json, csv or pdf"}.Err())
	}
	if err != nil {
		return err
	}
	r, err := s.svc.Reports.Utilization(c.UserContext(), actor(c), p)
	if err != nil {
		return err
	}
	name := "utilization-" + p.From.String() + "-to-" + p.To.String()
	switch format {
	case "csv":
		var b bytes.Buffer
		if err := r.CSV(&b); err != nil {
			return err
		}
		return download.CSV(c, name, b.Bytes())
	case "pdf":
		pdf, err := r.PDF()
		if err != nil {
			return err
		}
		return download.PDF(c, name, pdf)
	}
	// An attachment in every format: a browser that opens the link saves a
	// file.
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+download.FileName(name)+`.json"`)
	return c.JSON(r)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// recordsExport answers the record export of ?from= to ?to= as CSV.
func (s *Server) recordsExport(c *fiber.Ctx) error {
	p, err := reports.ParseParams(c.Query("from"), c.Query("to"), c.Query("funding_source_id"), c.Query("kind"), "")
	if err != nil {
		return err
	}
	// Whole, and recorded in the audit trail, before any of it is sent.
	var b bytes.Buffer
	if err := s.svc.Reports.Records(c.UserContext(), actor(c), p, &b); err != nil {
		return err
	}
	return download.CSV(c, "devices-"+p.From.String()+"-to-"+p.To.String(), b.Bytes())
}
