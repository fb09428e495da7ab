package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
)

// notifiers are where Selo's e-mails and text messages go. The local outbox
// under the data directory is the default for both, so a fresh install
// works with no mail server and no SMS contract; SMTP and an HTTP SMS
// gateway replace it when configured in the environment.
type notifiers struct {
	Mailer selo.Mailer
	SMS    selo.SMSSender
	Outbox *notify.Outbox // nil when neither channel uses it
	// Templates write the holders' e-mails and texts: the embedded pt and en
	// ones, overridden by DATA/templates/LANG/NAME.txt.
	Templates *notify.Templates
}

// notifiers builds the senders from SELO_SMTP_* and SELO_SMS_GATEWAY_*.
// They are built once per process, so that the signing service and the
// registration desk share one outbox.
func (c *cli) notifiers() (*notifiers, error) {
	if c.notify != nil {
		return c.notify, nil
	}
	n, err := c.buildNotifiers()
	if err != nil {
		return nil, err
	}
	c.notify = n
	return n, nil
}

func (c *cli) buildNotifiers() (*notifiers, error) {
	n := &notifiers{}
	t, err := notify.LoadTemplates(filepath.Join(c.dataDir, "templates"))
	if err != nil {
		return nil, err
	}
	n.Templates = t
	outbox := func() (*notify.Outbox, error) {
		if n.Outbox == nil {
			o, err := notify.OpenOutbox(filepath.Join(c.dataDir, "outbox"), selo.SystemClock{})
			if err != nil {
				return nil, err
			}
			n.Outbox = o
		}
		return n.Outbox, nil
	}
	if addr := os.Getenv("SELO_SMTP_ADDR"); addr != "" {
		m, err := notify.NewSMTP(notify.SMTPConfig{Addr: addr, From: os.Getenv("SELO_SMTP_FROM"),
			Username: os.Getenv("SELO_SMTP_USER"), Password: os.Getenv("SELO_SMTP_PASSWORD"),
			Security: os.Getenv("SELO_SMTP_SECURITY")})
		if err != nil {
			return nil, fmt.Errorf("SMTP settings: %w", err)
		}
		n.Mailer = m
	} else {
		o, err := outbox()
		if err != nil {
			return nil, err
		}
		n.Mailer = o
	}
	if url := os.Getenv("SELO_SMS_GATEWAY_URL"); url != "" {
		s, err := notify.NewHTTPSMS(notify.HTTPSMSConfig{URL: url, Token: os.Getenv("SELO_SMS_GATEWAY_TOKEN"),
			From: os.Getenv("SELO_SMS_FROM")})
		if err != nil {
			return nil, fmt.Errorf("SMS gateway settings: %w", err)
		}
		n.SMS = s
	} else {
		o, err := outbox()
		if err != nil {
			return nil, err
		}
		n.SMS = o
	}
	return n, nil
}

func (c *cli) outboxCommand() *cobra.Command {
	var channel, to string
	var limit int
	var follow bool
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "Read the e-mails and text messages Selo wrote to the local outbox",
		Long: `Outbox lists the messages Selo sent into the local outbox under the data
directory: every e-mail when no SMTP server is configured (SELO_SMTP_ADDR) and
every text message when no SMS gateway is (SELO_SMS_GATEWAY_URL). On a laptop
this is how a holder reads a verification code; the messages hold one-time
codes, so the outbox is readable by the data directory's owner only.

  selo outbox                        # every message, oldest first
  selo outbox --channel sms --to +351912345678
  selo outbox --follow               # wait for new messages
  selo outbox show ID                # one message in full`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := c.openOutbox()
			if err != nil {
				return err
			}
			f := notify.OutboxFilter{Channel: channel, To: to, Limit: limit}
			for {
				msgs, err := o.List(cmd.Context(), f)
				if err != nil {
					return err
				}
				if err := c.printOutbox(msgs); err != nil {
					return err
				}
				if !follow {
					return nil
				}
				if len(msgs) > 0 {
					f.AfterID = msgs[len(msgs)-1].ID
				}
				f.Limit = 0
				if _, err := o.Wait(cmd.Context(), f); err != nil {
					if cmd.Context().Err() != nil {
						return nil
					}
					return err
				}
			}
		},
	}
	cmd.Flags().StringVar(&channel, "channel", "", "only email or sms")
	cmd.Flags().StringVar(&to, "to", "", "only messages to this address or number")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many messages (0: all)")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep waiting for new messages (Ctrl-C stops)")
	cmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Print one outbox message in full",
		Args:  exactArgs(1, "outbox show needs a message ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := c.openOutbox()
			if err != nil {
				return err
			}
			m, err := o.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(m)
			}
			fmt.Fprintf(c.stdout, "ID:      %s\nTime:    %s\nChannel: %s\nTo:      %s\n", m.ID, m.CreatedAt.Format(time.RFC3339), m.Channel, m.To)
			if m.Subject != "" {
				fmt.Fprintf(c.stdout, "Subject: %s\n", m.Subject)
			}
			fmt.Fprintf(c.stdout, "\n%s\n", strings.TrimRight(m.Body, "\n"))
			return nil
		},
	})
	return cmd
}

// openOutbox opens the outbox of an initialized data directory.
func (c *cli) openOutbox() (*notify.Outbox, error) {
	if _, err := os.Stat(c.configPath); err != nil {
		return nil, selo.Errorf(selo.ENOTFOUND, "%s is not initialized (no %s): run 'selo init' first", c.dataDir, c.configPath)
	}
	return notify.OpenOutbox(filepath.Join(c.dataDir, "outbox"), selo.SystemClock{})
}

func (c *cli) printOutbox(msgs []selo.OutboxMessage) error {
	if c.jsonOut {
		for i := range msgs {
			if err := c.printJSON(msgs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for _, m := range msgs {
		what := m.Subject
		if m.Channel == notify.ChannelSMS || what == "" {
			what, _, _ = strings.Cut(m.Body, "\n")
		}
		fmt.Fprintf(c.stdout, "%s  %s  %-5s  %-28s  %s\n", m.ID, m.CreatedAt.Format("2006-01-02 15:04:05"), m.Channel, m.To, what)
	}
	return nil
}
