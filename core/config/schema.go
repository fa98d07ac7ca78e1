package config

import "github.com/hashicorp/hcl/v2"

// The gohcl schema of a config file. These structs mirror the HCL; Load
// turns them into the exported types after checking them. The *Range fields
// locate attribute values for diagnostics.

type fileSchema struct {
	Hubs        []*hubSchema        `hcl:"hub,block"`
	Initiatives []*initiativeSchema `hcl:"initiative,block"`
	Priorities  []*prioritySchema   `hcl:"priority,block"`
	Connectors  []*connectorSchema  `hcl:"connector,block"`
	Syncs       []*syncSchema       `hcl:"sync,block"`
	Reports     []*reportSchema     `hcl:"report,block"`
}

type hubSchema struct {
	DataDir   string `hcl:"data_dir,optional"`
	LogLevel  string `hcl:"log_level,optional"`
	LogFormat string `hcl:"log_format,optional"`
	PluginDir string `hcl:"plugin_dir,optional"`
	Strategy  string `hcl:"strategy,optional"`
	Listen    string `hcl:"listen,optional"`
	APIToken  string `hcl:"api_token,optional"`
	ReadToken string `hcl:"read_token,optional"`
	PublicURL string `hcl:"public_url,optional"`

	RequirePluginPins bool   `hcl:"require_plugin_pins,optional"`
	TLSCert           string `hcl:"tls_cert,optional"`
	TLSKey            string `hcl:"tls_key,optional"`

	TLSCertRange hcl.Range `hcl:"tls_cert,attr_value_range"`
	TLSKeyRange  hcl.Range `hcl:"tls_key,attr_value_range"`

	LogLevelRange  hcl.Range `hcl:"log_level,attr_value_range"`
	LogFormatRange hcl.Range `hcl:"log_format,attr_value_range"`
	StrategyRange  hcl.Range `hcl:"strategy,attr_value_range"`
	ListenRange    hcl.Range `hcl:"listen,attr_value_range"`
	APITokenRange  hcl.Range `hcl:"api_token,attr_value_range"`
	ReadTokenRange hcl.Range `hcl:"read_token,attr_value_range"`
	PublicURLRange hcl.Range `hcl:"public_url,attr_value_range"`
	DefRange       hcl.Range `hcl:",def_range"`
}

type initiativeSchema struct {
	Key            string            `hcl:"key,label"`
	Name           string            `hcl:"name"`
	Scope          string            `hcl:"scope,optional"`
	Rationale      string            `hcl:"rationale,optional"`
	Approach       string            `hcl:"approach,optional"`
	Sponsor        string            `hcl:"sponsor,optional"`
	CommittedOn    string            `hcl:"committed_on,optional"`
	Lead           string            `hcl:"lead,optional"`
	Team           []string          `hcl:"team,optional"`
	SprintCapacity *float64          `hcl:"sprint_capacity,optional"`
	SoundingBoard  []string          `hcl:"sounding_board,optional"`
	Priority       string            `hcl:"priority,optional"`
	Trainings      []*trainingSchema `hcl:"training,block"`

	KeyRange            hcl.Range `hcl:"key,label_range"`
	NameRange           hcl.Range `hcl:"name,attr_value_range"`
	CommittedOnRange    hcl.Range `hcl:"committed_on,attr_value_range"`
	SprintCapacityRange hcl.Range `hcl:"sprint_capacity,attr_value_range"`
	PriorityRange       hcl.Range `hcl:"priority,attr_value_range"`
	DefRange            hcl.Range `hcl:",def_range"`
}

type trainingSchema struct {
	Person string `hcl:"person"`
	Course string `hcl:"course"`
	Date   string `hcl:"date"`

	DateRange hcl.Range `hcl:"date,attr_value_range"`
}

type prioritySchema struct {
	Name        string         `hcl:"name,label"`
	Score       hcl.Expression `hcl:"score"`
	Description string         `hcl:"description,optional"`

	Body       hcl.Body  `hcl:",body"`
	NameRange  hcl.Range `hcl:"name,label_range"`
	ScoreRange hcl.Range `hcl:"score,attr_range"`
	DefRange   hcl.Range `hcl:",def_range"`
}

type connectorSchema struct {
	Type         string   `hcl:"type,label"`
	Name         string   `hcl:"name,label"`
	PluginSHA256 string   `hcl:"plugin_sha256,optional"`
	Body         hcl.Body `hcl:",remain"`

	TypeRange         hcl.Range `hcl:"type,label_range"`
	NameRange         hcl.Range `hcl:"name,label_range"`
	PluginSHA256Range hcl.Range `hcl:"plugin_sha256,attr_value_range"`
	DefRange          hcl.Range `hcl:",def_range"`
}

type syncSchema struct {
	Name       string             `hcl:"name,label"`
	Kind       string             `hcl:"kind"`
	Connector  string             `hcl:"connector"`
	Initiative string             `hcl:"initiative,optional"`
	Direction  string             `hcl:"direction,optional"`
	Authority  []*authoritySchema `hcl:"authority,block"`
	MapStatus  map[string]string  `hcl:"map_status,optional"`
	Filter     map[string]string  `hcl:"filter,optional"`
	OnDelete   string             `hcl:"on_delete,optional"`
	Schedule   string             `hcl:"schedule,optional"`
	Lookback   string             `hcl:"lookback,optional"`
	FullEvery  string             `hcl:"full_every,optional"`
	BatchSize  *int               `hcl:"batch_size,optional"`
	// The deletion limit of one run, and taking over another hub's records.
	MaxDeletePercent *float64 `hcl:"max_delete_percent,optional"`
	MaxDeleteMin     *int     `hcl:"max_delete_min,optional"`
	AdoptForeign     bool     `hcl:"adopt_foreign,optional"`

	NameRange             hcl.Range `hcl:"name,label_range"`
	KindRange             hcl.Range `hcl:"kind,attr_value_range"`
	ConnectorRange        hcl.Range `hcl:"connector,attr_value_range"`
	InitiativeRange       hcl.Range `hcl:"initiative,attr_value_range"`
	DirectionRange        hcl.Range `hcl:"direction,attr_value_range"`
	MapStatusRange        hcl.Range `hcl:"map_status,attr_value_range"`
	FilterRange           hcl.Range `hcl:"filter,attr_value_range"`
	OnDeleteRange         hcl.Range `hcl:"on_delete,attr_value_range"`
	ScheduleRange         hcl.Range `hcl:"schedule,attr_value_range"`
	LookbackRange         hcl.Range `hcl:"lookback,attr_value_range"`
	FullEveryRange        hcl.Range `hcl:"full_every,attr_value_range"`
	BatchSizeRange        hcl.Range `hcl:"batch_size,attr_value_range"`
	MaxDeletePercentRange hcl.Range `hcl:"max_delete_percent,attr_value_range"`
	MaxDeleteMinRange     hcl.Range `hcl:"max_delete_min,attr_value_range"`
	DefRange              hcl.Range `hcl:",def_range"`
}

type authoritySchema struct {
	Default string            `hcl:"default,optional"`
	Fields  map[string]string `hcl:"fields,optional"`

	DefaultRange hcl.Range `hcl:"default,attr_value_range"`
	FieldsRange  hcl.Range `hcl:"fields,attr_value_range"`
	DefRange     hcl.Range `hcl:",def_range"`
}

type reportSchema struct {
	Name       string         `hcl:"name,label"`
	Kind       string         `hcl:"kind"`
	Initiative string         `hcl:"initiative,optional"`
	PublishTo  hcl.Expression `hcl:"publish_to,optional"`
	Schedule   string         `hcl:"schedule,optional"`

	NameRange       hcl.Range `hcl:"name,label_range"`
	KindRange       hcl.Range `hcl:"kind,attr_value_range"`
	InitiativeRange hcl.Range `hcl:"initiative,attr_value_range"`
	DefRange        hcl.Range `hcl:",def_range"`
}
