/* Reloading the configuration on SIGHUP (see reload.h). */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "config.h"
#include "log.h"
#include "policy.h"

struct changes {
	char live[768]; /* "key=new (was old)" for each applied change */
	size_t len;
	unsigned nlive;
};

static void on_change(void *ud, const char *key, bool live, const char *was, const char *now)
{
	struct changes *ch = ud;
	int n;

	if (!live) {
		log_warn("reload: %s cannot change while running (restart jbusd to apply it); "
			 "keeping %s, not %s", key, was, now);
		return;
	}
	ch->nlive++;
	if (ch->len >= sizeof(ch->live))
		return;
	n = snprintf(ch->live + ch->len, sizeof(ch->live) - ch->len, "%s %s=%s (was %s)",
		     ch->nlive > 1 ? "," : "", key, now, was);
	ch->len += n > 0 ? (size_t)n : 0;
}

/* The running broker takes next's live settings. */
static void apply(struct broker *b, struct config *run, const struct broker_config *next)
{
	config_copy_live(&b->cfg, next);
	config_copy_live(&run->cfg, next);
	log_max_level = b->cfg.log_level;
	log_use_syslog(b->cfg.use_syslog);
	b->retained.max_count = b->cfg.max_retained;
	b->retained.max_bytes = b->cfg.max_retained_bytes;
	b->retained.max_bytes_per_uid = b->cfg.max_retained_bytes_per_uid;
	broker_raise_fd_limit(b->cfg.max_clients);
}

void reload_run(struct broker *b)
{
	struct config *run = b->cfg.conf, next;
	struct changes ch = { .len = 0 };
	struct policy *p = NULL;
	char err[512], *path = NULL;

	if (!run) {
		/* an embedded broker (no configuration of its own): nothing to read again */
		log_info("reload: no configuration to reload");
		return;
	}
	config_init(&next);
	next.file = run->file;
	next.args = run->args; /* borrowed: given back before config_fini */
	next.nargs = run->nargs;
	if (config_load(&next, err, sizeof(err))) {
		log_error("reload: %s; keeping the running configuration", err);
		goto out;
	}
	if (next.cfg.policy_file &&
	    (policy_load(next.cfg.policy_file, &p, err, sizeof(err)) < 0 ||
	     !(path = strdup(next.cfg.policy_file)))) {
		log_error("reload: policy %s; keeping the running configuration",
			  p ? "out of memory" : err);
		policy_free(p);
		goto out;
	}
	/* run->cfg is what the last load gave: no fd or path the broker has since consumed */
	config_diff(&run->cfg, &next.cfg, on_change, &ch);
	apply(b, run, &next.cfg);
	free(run->policy_path);
	run->policy_path = path;
	b->cfg.policy_file = run->cfg.policy_file = path;
	if (ch.nlive)
		log_info("reload: %s applied:%s", run->file ? run->file : "configuration", ch.live);
	else
		log_info("reload: %s unchanged", run->file ? run->file : "configuration");
	/* the policy file is read again even when its name did not change */
	if (p || b->policy)
		access_set_policy(b, p);
out:
	next.args = NULL;
	config_fini(&next);
}
