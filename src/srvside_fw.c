/* srvside_fw.c - would this machine's firewall let a new TCP connection from
 * CLIENT to PORT through? Walks `nft -j list ruleset` (json-c) and
 * `iptables-save` text the way the kernel walks the input hook: every base
 * chain on it, rules in order, jump/goto/return, the chain policy; a drop in any
 * chain is final, an accept ends only its own chain. Matches it cannot decide
 * without the packet (rate limits, marks, sockets ...) never match, so a verdict
 * is only claimed for rules that certainly apply. Untrusted bytes: bounded,
 * fuzzed by fuzz/fuzz_srvwrap.c. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "srvside.h"

#define FW_DEPTH 16
#define FW_MAX_RULES 100000

struct nft {
	struct json_object *arr;
	const char *client;
	int v6, port;
	struct fw_hit *hit;
	int steps;
};

static const char *js(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static struct json_object *jo(struct json_object *o, const char *k)
{
	struct json_object *v;
	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v)
		       ? v : NULL;
}

static int same(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* The set object family/table/name, or NULL. */
static struct json_object *nft_set(struct nft *n, struct json_object *rule, const char *name)
{
	size_t len = json_object_array_length(n->arr);
	for (size_t i = 0; i < len; i++) {
		struct json_object *s = jo(json_object_array_get_idx(n->arr, i), "set");
		if (s && same(js(s, "name"), name) && same(js(s, "table"), js(rule, "table")) &&
		    same(js(s, "family"), js(rule, "family")))
			return s;
	}
	return NULL;
}

/* One value (address or port) against one element of a set or a match's right. */
static int val_match(struct json_object *v, const char *addr, long port, long *expires)
{
	struct json_object *e = jo(v, "elem");
	if (e) {
		struct json_object *ex = jo(e, "expires");
		int m = val_match(jo(e, "val"), addr, port, NULL);
		if (m && expires && ex)
			*expires = json_object_get_int64(ex);
		return m;
	}
	if (addr) {
		if (json_object_is_type(v, json_type_string))
			return srv_addr_in(addr, json_object_get_string(v)) == 1;
		struct json_object *p = jo(v, "prefix");
		if (p) {
			const char *a = js(p, "addr");
			struct json_object *l = jo(p, "len");
			char pat[96];
			if (!a || !l)
				return 0;
			snprintf(pat, sizeof(pat), "%s/%d", a, json_object_get_int(l));
			return srv_addr_in(addr, pat) == 1;
		}
		return 0;	/* address ranges: not ours to claim */
	}
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v) == port;
	struct json_object *r = jo(v, "range");
	if (r && json_object_is_type(r, json_type_array) && json_object_array_length(r) == 2)
		return json_object_get_int64(json_object_array_get_idx(r, 0)) <= port &&
		       port <= json_object_get_int64(json_object_array_get_idx(r, 1));
	return 0;
}

/* The right side of a match: value, anonymous set, or @named set. */
static int right_match(struct nft *n, struct json_object *rule, struct json_object *right,
		       const char *addr, long port)
{
	if (json_object_is_type(right, json_type_string) && json_object_get_string(right)[0] == '@') {
		struct json_object *s = nft_set(n, rule, json_object_get_string(right) + 1);
		struct json_object *el = jo(s, "elem");
		if (!el || !json_object_is_type(el, json_type_array))
			return 0;
		for (size_t i = 0; i < json_object_array_length(el); i++) {
			long exp = -1;
			if (val_match(json_object_array_get_idx(el, i), addr, port, &exp)) {
				struct json_object *fl = jo(s, "flags");
				int timeout = exp >= 0 || jo(s, "timeout");
				for (size_t k = 0; fl && json_object_is_type(fl, json_type_array) &&
						   k < json_object_array_length(fl); k++)
					timeout |= same(json_object_get_string(json_object_array_get_idx(fl, k)), "timeout");
				if (timeout && addr) {
					n->hit->ban = 1;
					n->hit->ban_left_s = exp;
					snprintf(n->hit->ban_set, sizeof(n->hit->ban_set), "%s %s %s",
						 js(rule, "family") ? js(rule, "family") : "?",
						 js(rule, "table") ? js(rule, "table") : "?",
						 json_object_get_string(right) + 1);
				}
				return 1;
			}
		}
		return 0;
	}
	struct json_object *set = jo(right, "set");
	if (set && json_object_is_type(set, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(set); i++)
			if (val_match(json_object_array_get_idx(set, i), addr, port, NULL))
				return 1;
		return 0;
	}
	return val_match(right, addr, port, NULL);
}

/* 1 matches, 0 does not (or cannot be decided). Appends its text to txt. */
static int nft_match(struct nft *n, struct json_object *rule, struct json_object *m, struct strbuf *txt)
{
	struct json_object *left = jo(m, "left"), *right = jo(m, "right");
	const char *op = js(m, "op");
	int neg = same(op, "!=");
	struct json_object *pl = jo(left, "payload"), *meta = jo(left, "meta"), *ct = jo(left, "ct");
	const char *rs = json_object_is_type(right, json_type_string) ? json_object_get_string(right)
			 : json_object_to_json_string_ext(right, JSON_C_TO_STRING_PLAIN);
	int r = 0;
	if (pl) {
		const char *proto = js(pl, "protocol"), *field = js(pl, "field");
		sb_addf(txt, "%s %s %s%s ", proto ? proto : "?", field ? field : "?", neg ? "!= " : "", rs);
		if ((same(proto, "ip") && n->v6) || (same(proto, "ip6") && !n->v6))
			return 0;
		if (same(field, "saddr")) {
			if (!n->client)
				return !neg;	/* any client: an address match is one of them */
			r = right_match(n, rule, right, n->client, 0);
		} else if (same(field, "dport") && (same(proto, "tcp") || same(proto, "th"))) {
			r = right_match(n, rule, right, NULL, n->port);
		} else if (same(field, "protocol") || same(field, "nexthdr")) {
			r = same(json_object_get_string(right), "tcp");
		} else {
			return 0;
		}
	} else if (meta) {
		const char *key = js(meta, "key");
		sb_addf(txt, "meta %s %s%s ", key ? key : "?", neg ? "!= " : "", rs);
		if (same(key, "l4proto"))
			r = right_match(n, rule, right, NULL, 0) || same(json_object_get_string(right), "tcp");
		else if (same(key, "nfproto"))
			r = same(json_object_get_string(right), n->v6 ? "ipv6" : "ipv4");
		else if (same(key, "iifname") || same(key, "iif")) {
			int lo = n->client && (srv_addr_in(n->client, "127.0.0.0/8") == 1 ||
					       srv_addr_in(n->client, "::1") == 1);
			r = same(json_object_get_string(right), "lo") ? lo : !lo;
		} else
			return 0;
	} else if (ct) {
		const char *key = js(ct, "key");
		sb_addf(txt, "ct %s %s ", key ? key : "?", rs);
		if (!same(key, "state"))
			return 0;
		/* a new connection's first packet is "new" */
		if (json_object_is_type(right, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(right); i++)
				r |= same(json_object_get_string(json_object_array_get_idx(right, i)), "new");
		} else {
			r = same(json_object_get_string(right), "new");
		}
	} else {
		sb_addf(txt, "%s ", json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN));
		return 0;
	}
	return neg ? !r : r;
}

static enum fw_verdict nft_chain(struct nft *n, const char *fam, const char *table,
				 const char *chain, int depth);

static void nft_record(struct nft *n, struct json_object *rule, enum fw_verdict v, struct strbuf *txt)
{
	struct fw_hit *h = n->hit;
	long handle = json_object_get_int64(jo(rule, "handle"));
	h->verdict = v;
	snprintf(h->rule, sizeof(h->rule), "%s", txt->buf ? txt->buf : "");
	snprintf(h->where, sizeof(h->where), "nftables: table %s %s chain %s handle %ld",
		 js(rule, "family"), js(rule, "table"), js(rule, "chain"), handle);
	if (h->ban)
		snprintf(h->undo, sizeof(h->undo), "nft delete element %s { %s }", h->ban_set, n->client);
	else
		snprintf(h->undo, sizeof(h->undo), "nft delete rule %s %s %s handle %ld",
			 js(rule, "family"), js(rule, "table"), js(rule, "chain"), handle);
}

/* One rule: FW_NONE falls through; -1 = return. */
static int nft_rule(struct nft *n, struct json_object *rule, int depth)
{
	struct json_object *ex = jo(rule, "expr");
	if (!ex || !json_object_is_type(ex, json_type_array))
		return FW_NONE;
	struct strbuf txt = { 0 };
	int ok = 1, ret = FW_NONE;
	n->hit->ban = 0;
	for (size_t i = 0; ok && i < json_object_array_length(ex); i++) {
		struct json_object *e = json_object_array_get_idx(ex, i), *m;
		if ((m = jo(e, "match"))) {
			ok = nft_match(n, rule, m, &txt);
		} else if (jo(e, "counter")) {
			continue;
		} else if (json_object_object_get_ex(e, "accept", NULL)) {
			ret = FW_ACCEPT;
			break;
		} else if (json_object_object_get_ex(e, "drop", NULL) || (m = jo(e, "reject"))) {
			int rej = !json_object_object_get_ex(e, "drop", NULL);
			sb_adds(&txt, rej ? "reject" : "drop");
			if (rej && js(m, "type"))
				sb_addf(&txt, " with %s", js(m, "type"));
			nft_record(n, rule, rej ? FW_REJECT : FW_DROP, &txt);
			ret = rej ? FW_REJECT : FW_DROP;
			break;
		} else if ((m = jo(e, "jump")) || (m = jo(e, "goto"))) {
			int go = jo(e, "goto") != NULL;
			enum fw_verdict v = depth < FW_DEPTH
				? nft_chain(n, js(rule, "family"), js(rule, "table"), js(m, "target"), depth + 1)
				: FW_NONE;
			ret = v != FW_NONE ? (int)v : go ? -1 : FW_NONE;
			break;
		} else if (json_object_object_get_ex(e, "return", NULL)) {
			ret = -1;
			break;
		} else if (jo(e, "log") || json_object_object_get_ex(e, "log", NULL)) {
			continue;
		} else {
			ok = 0;	/* limit, quota, mangle ...: not decidable here */
		}
	}
	sb_free(&txt);
	return ok ? ret : FW_NONE;
}

static enum fw_verdict nft_chain(struct nft *n, const char *fam, const char *table,
				 const char *chain, int depth)
{
	size_t len = json_object_array_length(n->arr);
	for (size_t i = 0; i < len; i++) {
		struct json_object *rule = jo(json_object_array_get_idx(n->arr, i), "rule");
		if (!rule || !same(js(rule, "family"), fam) || !same(js(rule, "table"), table) ||
		    !same(js(rule, "chain"), chain))
			continue;
		if (++n->steps > FW_MAX_RULES)
			return FW_NONE;
		int v = nft_rule(n, rule, depth);
		if (v == -1)
			return FW_NONE;
		if (v != FW_NONE)
			return (enum fw_verdict)v;
	}
	return FW_NONE;
}

int fw_nft_judge(const char *json, const char *client, int port, struct fw_hit *hit)
{
	memset(hit, 0, sizeof(*hit));
	hit->ban_left_s = -1;
	if (!json)
		return -1;
	struct json_object *root = json_tokener_parse(json);
	struct json_object *arr = jo(root, "nftables");
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		json_object_put(root);
		return -1;
	}
	struct nft n = { arr, client && *client ? client : NULL, client && strchr(client, ':'), port, hit, 0 };
	int found = 0;
	for (size_t i = 0; !found && i < json_object_array_length(arr); i++) {
		struct json_object *c = jo(json_object_array_get_idx(arr, i), "chain");
		const char *fam = c ? js(c, "family") : NULL;
		if (!c || !(same(js(c, "hook"), "input") || same(js(c, "hook"), "prerouting")) ||
		    !same(js(c, "type"), "filter"))
			continue;
		if (!fam || same(fam, "arp") || same(fam, "bridge") || same(fam, "netdev") ||
		    (same(fam, "ip") && n.v6) || (same(fam, "ip6") && !n.v6))
			continue;
		enum fw_verdict v = nft_chain(&n, fam, js(c, "table"), js(c, "name"), 0);
		if (v == FW_DROP || v == FW_REJECT) {
			found = 1;
		} else if (v == FW_NONE && same(js(c, "policy"), "drop")) {
			hit->verdict = FW_DROP;
			hit->ban = 0;
			snprintf(hit->rule, sizeof(hit->rule), "policy drop (no rule accepts port %d)", port);
			snprintf(hit->where, sizeof(hit->where), "nftables: table %s %s chain %s", fam,
				 js(c, "table"), js(c, "name"));
			snprintf(hit->undo, sizeof(hit->undo), "nft insert rule %s %s %s %s%s%s tcp dport %d accept",
				 fam, js(c, "table"), js(c, "name"), n.client ? (n.v6 ? "ip6 saddr " : "ip saddr ") : "",
				 n.client ? n.client : "", n.client ? "" : "", port);
			found = 1;
		}
	}
	json_object_put(root);
	return found;
}

/* ---- iptables-save ---- */

struct ipt {
	struct strvec lines;	/* the filter table's -A lines */
	struct strvec chains, policies;
	const char *client;
	int port;
	struct fw_hit *hit;
	int steps;
};

static int port_in(const char *spec, int port)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		long lo, hi;
		char *c = strchr(t, ':');
		if (c) {
			*c = '\0';
			if (!parse_int(t, 0, 65535, &lo) && !parse_int(c + 1, 0, 65535, &hi) && lo <= port && port <= hi)
				return 1;
		} else if (!parse_int(t, 0, 65535, &lo) && lo == port) {
			return 1;
		}
	}
	return 0;
}

/* One -A line: the target when it matches, "" when not. */
static const char *ipt_line(struct ipt *p, char *line, char *target, size_t tn)
{
	char *tok[128];
	int n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && n < 128; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	target[0] = '\0';
	int neg = 0;
	for (int i = 2; i < n; i++) {
		const char *a = tok[i], *v = i + 1 < n ? tok[i + 1] : "";
		int r = 1;
		if (!strcmp(a, "!")) {
			neg = 1;
			continue;
		}
		if (!strcmp(a, "-s")) {
			r = !p->client || srv_addr_in(p->client, v) == 1;
			if (!p->client)
				neg = 0;
			i++;
		} else if (!strcmp(a, "-p")) {
			r = !strcmp(v, "tcp") || !strcmp(v, "6");
			i++;
		} else if (!strcmp(a, "--dport") || !strcmp(a, "--dports") || !strcmp(a, "--destination-port")) {
			r = port_in(v, p->port);
			i++;
		} else if (!strcmp(a, "-m")) {
			i++;
			continue;
		} else if (!strcmp(a, "--state") || !strcmp(a, "--ctstate")) {
			r = strstr(v, "NEW") != NULL;
			i++;
		} else if (!strcmp(a, "-i")) {
			int lo = p->client && srv_addr_in(p->client, "127.0.0.0/8") == 1;
			r = !strcmp(v, "lo") ? lo : !lo;
			i++;
		} else if (!strcmp(a, "-j") || !strcmp(a, "-g")) {
			snprintf(target, tn, "%s", v);
			break;
		} else if (!strcmp(a, "--reject-with") || !strcmp(a, "--comment")) {
			i++;
			continue;
		} else {
			return "";	/* an option we cannot decide */
		}
		if (neg)
			r = !r;
		neg = 0;
		if (!r)
			return "";
	}
	return target;
}

static enum fw_verdict ipt_chain(struct ipt *p, const char *chain, int depth)
{
	char pre[160];
	snprintf(pre, sizeof(pre), "-A %s ", chain);
	for (size_t i = 0; i < p->lines.n; i++) {
		if (!str_startswith(p->lines.v[i], pre))
			continue;
		if (++p->steps > FW_MAX_RULES)
			return FW_NONE;
		char buf[1024], target[128];
		snprintf(buf, sizeof(buf), "%s", p->lines.v[i]);
		const char *t = ipt_line(p, buf, target, sizeof(target));
		if (!*t)
			continue;
		if (!strcmp(t, "ACCEPT"))
			return FW_ACCEPT;
		if (!strcmp(t, "RETURN"))
			return FW_NONE;
		if (!strcmp(t, "DROP") || !strcmp(t, "REJECT")) {
			p->hit->verdict = !strcmp(t, "DROP") ? FW_DROP : FW_REJECT;
			snprintf(p->hit->rule, sizeof(p->hit->rule), "%s", p->lines.v[i]);
			snprintf(p->hit->where, sizeof(p->hit->where), "iptables: table filter chain %s", chain);
			snprintf(p->hit->undo, sizeof(p->hit->undo), "iptables -D %s", p->lines.v[i] + 3);
			return p->hit->verdict;
		}
		for (size_t c = 0; c < p->chains.n && depth < FW_DEPTH; c++) {
			if (!strcmp(p->chains.v[c], t)) {
				enum fw_verdict v = ipt_chain(p, t, depth + 1);
				if (v != FW_NONE)
					return v;
				break;
			}
		}
	}
	return FW_NONE;
}

int fw_ipt_judge(const char *text, const char *client, int port, struct fw_hit *hit)
{
	memset(hit, 0, sizeof(*hit));
	hit->ban_left_s = -1;
	if (!text)
		return -1;
	struct ipt p = { .client = client && *client ? client : NULL, .port = port, .hit = hit };
	int in_filter = 0, any = 0;
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char line[1024];
		if (len < sizeof(line)) {
			memcpy(line, l, len);
			line[len] = '\0';
			if (line[0] == '*') {
				in_filter = !strcmp(line, "*filter");
				any = 1;
			} else if (in_filter && line[0] == ':') {
				char *sp = strchr(line, ' ');
				if (sp) {
					*sp = '\0';
					strvec_push(&p.chains, line + 1);
					char *pol = sp + 1, *e = strchr(pol, ' ');
					if (e)
						*e = '\0';
					strvec_push(&p.policies, pol);
				}
			} else if (in_filter && str_startswith(line, "-A ")) {
				strvec_push(&p.lines, line);
			}
		}
		l = nl ? nl + 1 : l + len;
	}
	int found = 0;
	if (any) {
		enum fw_verdict v = ipt_chain(&p, "INPUT", 0);
		found = v == FW_DROP || v == FW_REJECT;
		for (size_t c = 0; !found && v == FW_NONE && c < p.chains.n; c++) {
			if (!strcmp(p.chains.v[c], "INPUT") && !strcmp(p.policies.v[c], "DROP")) {
				hit->verdict = FW_DROP;
				snprintf(hit->rule, sizeof(hit->rule), ":INPUT DROP (no rule accepts port %d)", port);
				snprintf(hit->where, sizeof(hit->where), "iptables: table filter chain INPUT policy");
				snprintf(hit->undo, sizeof(hit->undo), "iptables -I INPUT %s%s -p tcp --dport %d -j ACCEPT",
					 p.client ? "-s " : "", p.client ? p.client : "", port);
				found = 1;
			}
		}
	}
	strvec_clear(&p.lines);
	strvec_clear(&p.chains);
	strvec_clear(&p.policies);
	return any ? found : -1;
}
