package web

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/web/download"
)

func (s *Server) listDevices(c *fiber.Ctx) error {
	p, perr := page(c)
	f, ferr := inventory.ParseDeviceFilter(c.Query("status"), c.Query("kind"), c.Query("q"))
	ids, ierr := queryIDs(c, "funding_source_id")
	if err := apperr.Join(perr, ferr, ierr); err != nil {
		return err
	}
	f.FundingSourceID = ids["funding_source_id"]
	devices, total, err := s.svc.Inventory.ListDevices(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	return sendList(c, devices, total, p)
}

func (s *Server) createDevice(c *fiber.Ctx) error {
	var in inventory.DeviceInput
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Inventory.CreateDevice(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/devices/" + strconv.FormatInt(d.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(d)
}

func (s *Server) getDevice(c *fiber.Ctx) error {
	id, err := pathID(c, "device")
	if err != nil {
		return err
	}
	d, err := s.svc.Inventory.Device(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// deviceLabels prints asset labels for the devices in ?ids= on ?paper=.
func (s *Server) deviceLabels(c *fiber.Ctx) error {
	ids, paper, err := inventory.ParseLabelRequest(c.Query("ids"), c.Query("paper"))
	if err != nil {
		return err
	}
	pdf, err := s.svc.Inventory.Labels(c.UserContext(), ids, paper)
	if err != nil {
		return err
	}
	return download.PDF(c, "asset-labels", pdf)
}

func (s *Server) updateDevice(c *fiber.Ctx) error {
	id, err := pathID(c, "device")
	if err != nil {
		return err
	}
	var in inventory.DeviceInput
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Inventory.UpdateDevice(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) inspectDevice(c *fiber.Ctx) error {
	id, err := pathID(c, "device")
	if err != nil {
		return err
	}
	var in inventory.InspectionInput
	if err := decode(c, &in); err != nil {
		return err
	}
	d, err := s.svc.Inventory.InspectDevice(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) deviceHistory(c *fiber.Ctx) error {
	id, err := pathID(c, "device")
	if err != nil {
		return err
	}
	p, err := page(c)
	if err != nil {
		return err
	}
	events, total, err := s.svc.Inventory.DeviceHistory(c.UserContext(), id, p)
	if err != nil {
		return err
	}
	return sendList(c, events, total, p)
}

func (s *Server) listDataPlans(c *fiber.Ctx) error {
	p, perr := page(c)
	ids, ierr := queryIDs(c, "funding_source_id")
	f := inventory.DataPlanFilter{Q: c.Query("q"), FundingSourceID: ids["funding_source_id"]}
	var bad apperr.Fields
	if v := c.Query("free"); v != "" {
		free, err := strconv.ParseBool(v)
		bad.Check(err != nil, "free", "must be true or false")
		f.Free = &free
	}
	if err := apperr.Join(perr, ierr, bad.Err()); err != nil {
		return err
	}
	plans, total, err := s.svc.Inventory.ListDataPlans(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	return sendList(c, plans, total, p)
}

func (s *Server) createDataPlan(c *fiber.Ctx) error {
	var in inventory.DataPlanInput
	if err := decode(c, &in); err != nil {
		return err
	}
	plan, err := s.svc.Inventory.CreateDataPlan(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/data-plans/" + strconv.FormatInt(plan.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(plan)
}

func (s *Server) getDataPlan(c *fiber.Ctx) error {
	id, err := pathID(c, "data plan")
	if err != nil {
		return err
	}
	plan, err := s.svc.Inventory.DataPlan(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(plan)
}

func (s *Server) updateDataPlan(c *fiber.Ctx) error {
	id, err := pathID(c, "data plan")
	if err != nil {
		return err
	}
	var in inventory.DataPlanInput
	if err := decode(c, &in); err != nil {
		return err
	}
	plan, err := s.svc.Inventory.UpdateDataPlan(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(plan)
}

func (s *Server) listLoans(c *fiber.Ctx) error {
	p, perr := page(c)
	ids, ierr := queryIDs(c, "client_id", "device_id")
	status, serr := inventory.ParseLoanStatus(c.Query("status"))
	agreement, aerr := inventory.ParseAgreementFilter(c.Query("agreement"))
	due, derr := inventory.ParseDueFilter(c.Query("due"))
	if err := apperr.Join(perr, ierr, serr, aerr, derr); err != nil {
		return err
	}
	f := inventory.LoanFilter{ClientID: ids["client_id"], DeviceID: ids["device_id"], Status: status, Agreement: agreement, Due: due}
	loans, total, err := s.svc.Inventory.ListLoans(c.UserContext(), actor(c), f, p)
	if err != nil {
		return err
	}
	return sendList(c, loans, total, p)
}

func (s *Server) issueLoan(c *fiber.Ctx) error {
	var in inventory.IssueInput
	if err := decode(c, &in); err != nil {
		return err
	}
	loan, err := s.svc.Inventory.IssueLoan(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	c.Location("/api/v1/loans/" + strconv.FormatInt(loan.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(loan)
}

func (s *Server) getLoan(c *fiber.Ctx) error {
	id, err := pathID(c, "loan")
	if err != nil {
		return err
	}
	loan, err := s.svc.Inventory.Loan(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(loan)
}

// loanAction is the handler of a loan transition: decode the body into In,
// run the transition on the loan in the path, answer with the loan.
func loanAction[In any](do func(ctx context.Context, actor *accounts.Actor, id int64, in In) (*inventory.Loan, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, "loan")
		if err != nil {
			return err
		}
		var in In
		if err := decode(c, &in); err != nil {
			return err
		}
		loan, err := do(c.UserContext(), actor(c), id, in)
		if err != nil {
			return err
		}
		return c.JSON(loan)
	}
}
