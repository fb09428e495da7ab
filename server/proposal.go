package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/control"
)

// The dual-control API (admin keys; auditors read): one admin proposes a CA
// creation or retirement, a profile change, a key-store operation or a new
// admin, a different admin approves, and then either executes it, once,
// before it expires.

func (s *Server) proposalRoutes(mux *http.ServeMux, admin func(http.HandlerFunc) http.HandlerFunc) {
	s.route(mux, "/api/v1/proposals", admin, methods{http.MethodGet: s.handleListProposals, http.MethodPost: s.handlePropose})
	s.route(mux, "/api/v1/proposals/{id}", admin, methods{http.MethodGet: s.handleGetProposal})
	s.route(mux, "/api/v1/proposals/{id}/approve", admin, methods{http.MethodPost: s.handleDecideProposal(true)})
	s.route(mux, "/api/v1/proposals/{id}/reject", admin, methods{http.MethodPost: s.handleDecideProposal(false)})
	s.route(mux, "/api/v1/proposals/{id}/execute", admin, methods{http.MethodPost: s.handleExecuteProposal})
}

// ProposalRequest is the body of POST /api/v1/proposals.
type ProposalRequest struct {
	Kind   string          `json:"kind"`
	Params json.RawMessage `json:"params"`
	Reason string          `json:"reason"`
}

// ProposalDecision is the optional body of approve and reject.
type ProposalDecision struct {
	Comment string `json:"comment"`
}

// ProposalResponse is a proposal as the API shows it.
type ProposalResponse struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Params     json.RawMessage `json:"params"`
	Reason     string          `json:"reason"`
	Status     string          `json:"status"`
	ProposedBy string          `json:"proposed_by"`
	ProposedAt time.Time       `json:"proposed_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
	DecidedBy  string          `json:"decided_by,omitempty"`
	DecidedAt  *time.Time      `json:"decided_at,omitempty"`
	Comment    string          `json:"comment,omitempty"`
	ExecutedBy string          `json:"executed_by,omitempty"`
	ExecutedAt *time.Time      `json:"executed_at,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
}

func proposalResponse(p *selo.Proposal) *ProposalResponse {
	out := &ProposalResponse{ID: p.ID, Kind: string(p.Kind), Params: json.RawMessage(p.Params), Reason: p.Reason,
		Status: string(p.Status), ProposedBy: p.ProposedBy, ProposedAt: p.ProposedAt, ExpiresAt: p.ExpiresAt,
		DecidedBy: p.DecidedBy, Comment: p.Comment, ExecutedBy: p.ExecutedBy}
	if !p.DecidedAt.IsZero() {
		t := p.DecidedAt
		out.DecidedAt = &t
	}
	if !p.ExecutedAt.IsZero() {
		t := p.ExecutedAt
		out.ExecutedAt = &t
	}
	if p.Result != "" {
		out.Result = json.RawMessage(p.Result)
	}
	return out
}

func principalFrom(r *http.Request) control.Principal {
	return control.Principal{Actor: actorFrom(r.Context()), Roles: rolesFrom(r)}
}

func (s *Server) handlePropose(w http.ResponseWriter, r *http.Request) {
	var req ProposalRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.control.Propose(r.Context(), principalFrom(r), selo.ProposalKind(req.Kind), req.Params, req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/proposals/"+p.ID)
	writeJSON(w, http.StatusCreated, proposalResponse(p))
}

func (s *Server) handleListProposals(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > control.MaxListProposals {
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "limit must be 1 to %d", control.MaxListProposals))
			return
		}
		limit = n
	}
	list, err := s.control.ListProposals(r.Context(), selo.ProposalStatus(r.URL.Query().Get("status")), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]*ProposalResponse, 0, len(list))
	for _, p := range list {
		out = append(out, proposalResponse(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetProposal(w http.ResponseWriter, r *http.Request) {
	p, err := s.control.FindProposal(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, proposalResponse(p))
}

func (s *Server) handleDecideProposal(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req ProposalDecision
		if r.ContentLength != 0 {
			if err := s.readJSON(w, r, &req); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		decide := s.control.Reject
		if approve {
			decide = s.control.Approve
		}
		p, err := decide(r.Context(), principalFrom(r), r.PathValue("id"), req.Comment)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, proposalResponse(p))
	}
}

func (s *Server) handleExecuteProposal(w http.ResponseWriter, r *http.Request) {
	p, err := s.control.Execute(r.Context(), principalFrom(r), r.PathValue("id"))
	if err != nil {
		if p != nil {
			// It ran and failed: the proposal says so, and is spent.
			s.logger(r).Warn("proposal failed", "id", p.ID, "err", err)
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, proposalResponse(p))
}
