package model_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/apphostd/apphostd/pkg/model"
)

// testdb is a small integration kind that exercises the registry end to
// end: its own schema with a labelled child block, Common runtime
// attributes, expansion into an executable, a generated parameter and one
// child resource per database, and Attributes for consumers.
func init() {
	model.RegisterKind(model.KindDef{
		Name:   "testdb",
		Common: true,
		Schema: &model.BlockSchema{
			Attributes: []model.AttributeSchema{{Name: "version"}},
			Blocks: []model.NestedBlockSchema{{
				Type: "database", Labelled: true, Repeatable: true,
				Body: &model.BlockSchema{Attributes: []model.AttributeSchema{{Name: "owner"}}},
			}},
		},
		Expand: expandTestDB,
	})
}

func expandTestDB(b *model.Block) ([]*model.Resource, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	name := b.Label()
	version, ok := b.Body.ConstString("version", &diags)
	if !ok {
		version = "16"
	}
	expr := func(src string) hcl.Expression {
		e, d := model.TemplateExpr(src, b.DefRange)
		diags = append(diags, d...)
		return e
	}
	pw := model.NewResource(name+"-password", model.KindParameter, model.KindParameter, b.DefRange)
	pw.Parameter.Secret = true
	pw.Parameter.Generate = &model.GenerateSpec{Length: 22, Lower: true, Upper: true, Numeric: true}

	srv := model.NewResource(name, "testdb", model.KindExecutable, b.DefRange)
	srv.Executable.Command = expr("testdb-server")
	srv.Executable.Args = []hcl.Expression{expr("--version"), expr(version)}
	srv.Endpoints = []*model.Endpoint{{Name: "tcp", Scheme: "tcp", Env: "PORT", Range: b.DefRange}}
	srv.Env = []model.EnvVar{{Name: "PASSWORD", Value: expr("${parameter." + name + "-password.value}"), Range: b.DefRange}}
	srv.Attributes = map[string]hcl.Expression{
		"host":     expr("${testdb." + name + ".endpoint.tcp.host}"),
		"port":     expr("${testdb." + name + ".endpoint.tcp.port}"),
		"username": expr("admin"),
		"password": expr("${parameter." + name + "-password.value}"),
		"connection_string": expr("Host=${testdb." + name + ".endpoint.tcp.host};Port=${testdb." + name +
			".endpoint.tcp.port};Username=admin;Password=${parameter." + name + "-password.value}"),
	}
	out := []*model.Resource{pw, srv}
	for _, child := range b.Body.BlocksOfType("database") {
		owner, ok := child.Body.ConstString("owner", &diags)
		if !ok {
			owner = "admin"
		}
		db := model.NewResource(child.Label(), "testdb_database", model.KindExecutable, child.DefRange)
		db.Parent = name
		db.Executable.Command = expr("createdb")
		db.Executable.Args = []hcl.Expression{expr("--owner=" + owner), expr(child.Label())}
		db.WaitFor = []model.Ref{{Name: name, Range: child.DefRange}}
		db.Attributes = map[string]hcl.Expression{
			"connection_string": expr("${testdb." + name + ".connection_string};Database=" + child.Label()),
		}
		out = append(out, db)
	}
	return out, diags
}

const testdbHCL = `
testdb "db" {
  version = "15"
  env = {
    EXTRA = "1"
  }
  wait_for = [executable.init]
  database "orders" {
    owner = "shop"
  }
  database "users" {}
}

executable "init" {
  command = "true"
}

executable "api" {
  command = "api"
  env = {
    ORDERS = testdb_database.orders.connection_string
    SERVER = testdb.db.connection_string
    HOST   = testdb.db.endpoint.tcp.host
  }
  references = [testdb_database.orders]
}
`

const testdbYAML = `
testdb:
  db:
    version: "15"
    env: { EXTRA: "1" }
    wait_for: [executable.init]
    database:
      orders: { owner: shop }
      users:
executable:
  init:
    command: "true"
  api:
    command: api
    env:
      ORDERS: ${testdb_database.orders.connection_string}
      SERVER: ${testdb.db.connection_string}
      HOST: ${testdb.db.endpoint.tcp.host}
    references: [testdb_database.orders]
`

func mustCompile(t *testing.T, filename, src string) *model.Graph {
	t.Helper()
	g, diags := model.Compile(filename, []byte(src))
	if len(diags) > 0 {
		var buf bytes.Buffer
		_ = model.WriteDiagnostics(&buf, filename, []byte(src), diags, false)
		t.Fatalf("compile %s:\n%s", filename, buf.String())
	}
	return g
}

func TestKindExpansion(t *testing.T) {
	g := mustCompile(t, "apphost.hcl", testdbHCL)
	want := []string{"db-password", "init", "db", "orders", "api", "users"}
	if got := strings.Join(g.Order, " "); got != strings.Join(want, " ") {
		t.Errorf("Order = %s, want %s", got, strings.Join(want, " "))
	}
	db := g.Resources["db"]
	if db.Kind != "testdb" || db.BaseKind != model.KindExecutable {
		t.Errorf("db kind = %s/%s", db.Kind, db.BaseKind)
	}
	// Common attributes land on the primary resource, after its own env.
	var envNames []string
	for _, e := range db.Env {
		envNames = append(envNames, e.Name)
	}
	if got := strings.Join(envNames, ","); got != "EXTRA,PASSWORD" {
		t.Errorf("db env = %s, want EXTRA,PASSWORD", got)
	}
	if got := strings.Join(db.DependsOn, ","); got != "db-password,init" {
		t.Errorf("db DependsOn = %s", got)
	}
	orders := g.Resources["orders"]
	if orders.Parent != "db" || orders.Kind != "testdb_database" {
		t.Errorf("orders parent/kind = %q/%q", orders.Parent, orders.Kind)
	}
	if got := strings.Join(orders.DependsOn, ","); got != "db" {
		t.Errorf("orders DependsOn = %s", got)
	}
	if got := strings.Join(g.Resources["api"].DependsOn, ","); got != "db,orders" {
		t.Errorf("api DependsOn = %s", got)
	}

	// The YAML mirror expands identically.
	gy := mustCompile(t, "apphost.yaml", testdbYAML)
	jh, _ := model.MarshalGraphJSON(g)
	jy, _ := model.MarshalGraphJSON(gy)
	if !bytes.Equal(jh, jy) {
		t.Errorf("HCL and YAML expansions differ:\nHCL:\n%s\nYAML:\n%s", jh, jy)
	}

	// Late binding through Attributes: discovery resolves the server's
	// attributes first, publishes them as Values, then resolves consumers.
	vals := model.Values{
		"db-password": {Attrs: map[string]string{"value": "s3cret"}},
		"db": {Endpoints: map[string]model.EndpointValues{
			"tcp": {Scheme: "tcp", Host: "127.0.0.1", Port: 15432, TargetPort: 15432, URL: "tcp://127.0.0.1:15432"},
		}},
	}
	spec, diags := db.Resolve(model.EvalContext(g, vals))
	if diags.HasErrors() {
		t.Fatalf("resolve db: %s", diags.Error())
	}
	wantCS := "Host=127.0.0.1;Port=15432;Username=admin;Password=s3cret"
	if spec.Attributes["connection_string"] != wantCS || spec.Env["PASSWORD"] != "s3cret" {
		t.Fatalf("db spec = %+v", spec)
	}
	if got := strings.Join(spec.Args, " "); got != "--version 15" {
		t.Errorf("db args = %q", got)
	}
	vals["db"].Attrs = spec.Attributes
	ospec, diags := orders.Resolve(model.EvalContext(g, vals))
	if diags.HasErrors() {
		t.Fatalf("resolve orders: %s", diags.Error())
	}
	vals["orders"] = &model.ResourceValues{Attrs: ospec.Attributes}
	aspec, diags := g.Resources["api"].Resolve(model.EvalContext(g, vals))
	if diags.HasErrors() {
		t.Fatalf("resolve api: %s", diags.Error())
	}
	if aspec.Env["ORDERS"] != wantCS+";Database=orders" || aspec.Env["SERVER"] != wantCS || aspec.Env["HOST"] != "127.0.0.1" {
		t.Errorf("api env = %v", aspec.Env)
	}
}

func TestKindErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"testdb \"db\" {\n  bogus = 1\n}\n", "Unsupported argument"},
		{"testdb \"db\" {\n  database {}\n}\n", "Missing name for database"},
		{"testdb \"db\" {\n  version = parameter.v.value\n}\nparameter \"v\" {}\n", "Reference not allowed here"},
		{"testdb \"db\" {\n  database \"db-password\" {}\n}\n", "Duplicate resource name"},
		{"testdb \"db\" {}\nexecutable \"x\" {\n  command = testdb.db.nope\n}\n", "Unsupported attribute"},
		{"testdb \"db\" {\n  database \"orders\" {}\n}\nexecutable \"x\" {\n  command = testdb.orders.connection_string\n}\n", "Resource kind mismatch"},
	}
	for _, c := range cases {
		g, diags := model.Compile("apphost.hcl", []byte(c.src))
		if g != nil || !strings.Contains(diags.Error(), c.want) {
			t.Errorf("%q: want error %q, got %v", c.src, c.want, diags)
		}
	}
}

func TestRegisterKindRejectsBadDefinitions(t *testing.T) {
	for _, def := range []model.KindDef{
		{Name: "container", Expand: expandTestDB},
		{Name: "Bad", Expand: expandTestDB},
		{Name: "nil-expand"},
		{Name: "testdb", Expand: expandTestDB},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterKind(%q) did not panic", def.Name)
				}
			}()
			model.RegisterKind(def)
		}()
	}
}
