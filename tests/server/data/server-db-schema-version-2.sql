-- A server.db written by flomation-server before its migrations moved to Alembic
-- (schema_version 2), dumped with sqlite3's iterdump: one queue, flow, execution and two log lines.
BEGIN TRANSACTION;
CREATE TABLE environment_items (
	id TEXT NOT NULL, 
	environment_id TEXT NOT NULL, 
	kind TEXT NOT NULL, 
	name TEXT NOT NULL, 
	value TEXT, 
	sealed BLOB, 
	provider TEXT, 
	expires_at TEXT, 
	metadata TEXT, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (environment_id, kind, name), 
	FOREIGN KEY(environment_id) REFERENCES environments (id)
);
CREATE TABLE environments (
	id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	owner_id TEXT NOT NULL, 
	organisation_id TEXT, 
	organisation_key TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (organisation_key, name)
);
CREATE TABLE execution_logs (
	execution_id TEXT NOT NULL, 
	seq INTEGER NOT NULL, 
	line TEXT NOT NULL, 
	PRIMARY KEY (execution_id, seq)
)
 WITHOUT ROWID

;
INSERT INTO "execution_logs" VALUES('6884bafe-c4b3-4c6d-bb34-985fa37c1906',1,'first line');
INSERT INTO "execution_logs" VALUES('6884bafe-c4b3-4c6d-bb34-985fa37c1906',2,'second é line');
CREATE TABLE executions (
	id TEXT NOT NULL, 
	flo_id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	owner_id TEXT NOT NULL, 
	organisation_id TEXT, 
	sequence INTEGER NOT NULL, 
	trigger_type TEXT, 
	entry_node_id TEXT, 
	data TEXT, 
	execution_status TEXT NOT NULL, 
	completion_status TEXT NOT NULL, 
	completion_reason TEXT, 
	runner_id TEXT, 
	result TEXT, 
	checkpoint TEXT, 
	suspend_count INTEGER NOT NULL, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT, 
	allocated_at FLOAT, 
	started_at FLOAT, 
	completed_at FLOAT, 
	last_contact_at FLOAT, 
	log_bytes INTEGER NOT NULL, 
	log_truncated BOOLEAN NOT NULL, 
	log_seq INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(flo_id) REFERENCES flos (id)
);
INSERT INTO "executions" VALUES('6884bafe-c4b3-4c6d-bb34-985fa37c1906','9d2463f6-a5c4-49e0-aa61-0707a5b7c965','hello','00000000-0000-0000-0000-000000000000',NULL,1,'manual',NULL,'{"name":"Ada"}','created','pending',NULL,NULL,NULL,NULL,0,1700000002.0,1700000002.0,NULL,NULL,NULL,NULL,0,0,2);
CREATE TABLE flos (
	id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	organisation_id TEXT, 
	author_id TEXT, 
	environment_id TEXT, 
	queue_id TEXT, 
	created_at FLOAT NOT NULL, 
	execution_count INTEGER NOT NULL, 
	last_run FLOAT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(environment_id) REFERENCES environments (id), 
	FOREIGN KEY(queue_id) REFERENCES queues (id)
);
INSERT INTO "flos" VALUES('9d2463f6-a5c4-49e0-aa61-0707a5b7c965','hello',NULL,NULL,NULL,'85241356-71a4-4a17-a690-ff75cbfc1243',1700000001.0,1,1700000002.0);
CREATE TABLE nonces (
	key_id TEXT NOT NULL, 
	nonce TEXT NOT NULL, 
	seen_at FLOAT NOT NULL, 
	PRIMARY KEY (key_id, nonce)
);
CREATE TABLE queue_members (
	queue_id TEXT NOT NULL, 
	runner_id TEXT NOT NULL, 
	PRIMARY KEY (queue_id, runner_id), 
	FOREIGN KEY(queue_id) REFERENCES queues (id), 
	FOREIGN KEY(runner_id) REFERENCES runners (id)
);
CREATE TABLE queues (
	id TEXT NOT NULL, 
	name TEXT NOT NULL, 
	registration_code TEXT NOT NULL, 
	organisation_id TEXT, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	UNIQUE (registration_code)
);
INSERT INTO "queues" VALUES('85241356-71a4-4a17-a690-ff75cbfc1243','legacy','b16999fdbedfcfb8fef6899e4a37751d',NULL,1700000000.0);
CREATE TABLE revisions (
	id TEXT NOT NULL, 
	flo_id TEXT NOT NULL, 
	number INTEGER NOT NULL, 
	data TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (flo_id, number), 
	FOREIGN KEY(flo_id) REFERENCES flos (id)
);
INSERT INTO "revisions" VALUES('f7f47dc5-f94d-4911-97c8-852c8b530223','9d2463f6-a5c4-49e0-aa61-0707a5b7c965',1,'{"nodes":[],"edges":[]}',1700000001.0);
CREATE TABLE runners (
	id TEXT NOT NULL, 
	identifier TEXT NOT NULL, 
	name TEXT NOT NULL, 
	enrolled_at FLOAT NOT NULL, 
	last_contact_at FLOAT, 
	ip_address TEXT, 
	active BOOLEAN NOT NULL, 
	version TEXT, 
	executor_version TEXT, 
	manifest TEXT, 
	public_key TEXT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (identifier)
);
CREATE TABLE schema_version (
	version INTEGER NOT NULL
);
INSERT INTO "schema_version" VALUES(2);
CREATE INDEX ix_nonces_seen_at ON nonces (seen_at);
CREATE INDEX ix_queue_members_runner ON queue_members (runner_id);
CREATE INDEX ix_executions_status_created ON executions (execution_status, created_at);
CREATE INDEX ix_executions_flo ON executions (flo_id, created_at);
COMMIT;
