//! The routing tree, compiled from [`RouteConfig`]: which route(s) an alert belongs to,
//! with Alertmanager's rules — a route matches when all its matchers do; its children are
//! tried in order and the first match wins unless that child has `continue`; a route with
//! no matching child takes the alert itself. Children inherit receiver, `group_by` and
//! timers they do not set.

use std::collections::HashSet;
use std::time::Duration;

use crate::alert::Labels;
use crate::config::{NotifyConfig, RouteConfig};
use crate::dingtalk::Mention;
use crate::matcher::{MatchOp, Matcher, MatcherError};

/// Alertmanager's defaults for the root route.
pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// Which labels make up a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// `group_by: ['...']`: every label, i.e. one group per alert.
    All,
    /// These labels (possibly none: one group for the whole route).
    Labels(Vec<String>),
}

impl GroupBy {
    fn groups_by(&self, name: &str) -> bool {
        match self {
            GroupBy::All => true,
            GroupBy::Labels(names) => names.iter().any(|n| n == name),
        }
    }

    /// A hash of an alert's group labels, computed in place (no label map is built): equal
    /// group labels hash equally.
    pub fn hash_of(&self, labels: &Labels) -> u64 {
        let mut h = crate::notification::Fnv::new();
        for (k, v) in labels.iter().filter(|(k, _)| self.groups_by(k)) {
            h.eat(k.as_bytes());
            h.eat(&[0xff]);
            h.eat(v.as_bytes());
            h.eat(&[0xff]);
        }
        h.0
    }

    /// Whether an alert with `labels` belongs to the group whose labels are `group`.
    pub fn same_group(&self, labels: &Labels, group: &Labels) -> bool {
        let mut mine = labels.iter().filter(|(k, _)| self.groups_by(k));
        let mut theirs = group.iter();
        loop {
            match (mine.next(), theirs.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
    }

    /// The group labels of an alert: the grouping labels it has (missing ones are left
    /// out, as in Alertmanager).
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match self {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }
}

/// The timing of a route's aggregation groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
}

/// One compiled route.
#[derive(Clone, Debug)]
pub struct Route {
    /// Index in [`RouteTree::routes`] (depth-first order).
    pub id: usize,
    pub receiver: String,
    pub group_by: GroupBy,
    pub timers: Timers,
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    /// Mentions replacing the receiver's (own or inherited); `None`: the receiver's.
    pub mention: Option<Mention>,
    /// Alertmanager's route key: the parent's key, `/`, then `{matchers}`.
    pub key: String,
    children: Vec<usize>,
}

/// A routing tree that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Matcher(#[from] MatcherError),
    #[error("the root route needs a receiver")]
    NoRootReceiver,
    #[error("the root route cannot have matchers")]
    RootMatchers,
    #[error("the root route cannot have continue")]
    RootContinue,
    #[error("route {key} names receiver {receiver:?}, which is not defined")]
    UnknownReceiver { key: String, receiver: String },
    #[error("receiver {0:?} is defined twice")]
    DuplicateReceiver(String),
    #[error("group_by: '...' must be the only entry, got {0:?}")]
    MixedGroupBy(Vec<String>),
    #[error("group_interval must be more than zero (route {0})")]
    ZeroGroupInterval(String),
}

/// The whole tree; `routes[0]` is the root.
#[derive(Clone, Debug)]
pub struct RouteTree {
    pub routes: Vec<Route>,
}

impl RouteTree {
    /// Compiles `config.route`, checking that every receiver it names exists.
    pub fn from_config(config: &NotifyConfig) -> Result<RouteTree, RouteError> {
        let mut seen = HashSet::new();
        for r in &config.receivers {
            if !seen.insert(r.name.as_str()) {
                return Err(RouteError::DuplicateReceiver(r.name.clone()));
            }
        }
        let tree = RouteTree::compile(&config.route)?;
        for r in &tree.routes {
            if !seen.contains(r.receiver.as_str()) {
                return Err(RouteError::UnknownReceiver {
                    key: r.key.clone(),
                    receiver: r.receiver.clone(),
                });
            }
        }
        Ok(tree)
    }

    /// Compiles a tree without checking receiver names (tests, benches).
    pub fn compile(root: &RouteConfig) -> Result<RouteTree, RouteError> {
        let receiver = root.receiver.clone().ok_or(RouteError::NoRootReceiver)?;
        if !root.matchers.is_empty() || !root.match_eq.is_empty() || !root.match_re.is_empty() {
            return Err(RouteError::RootMatchers);
        }
        if root.continue_matching {
            return Err(RouteError::RootContinue);
        }
        let parent = Inherited {
            receiver,
            group_by: GroupBy::Labels(Vec::new()),
            timers: Timers {
                group_wait: DEFAULT_GROUP_WAIT,
                group_interval: DEFAULT_GROUP_INTERVAL,
                repeat_interval: DEFAULT_REPEAT_INTERVAL,
            },
            key: None,
            mention: root.mention.clone(),
        };
        let mut tree = RouteTree { routes: Vec::new() };
        tree.add(root, &parent)?;
        Ok(tree)
    }

    fn add(&mut self, cfg: &RouteConfig, parent: &Inherited) -> Result<usize, RouteError> {
        let mut matchers = Vec::new();
        for (k, v) in &cfg.match_eq {
            matchers.push(Matcher::new(k, MatchOp::Equal, v)?);
        }
        for (k, v) in &cfg.match_re {
            matchers.push(Matcher::new(k, MatchOp::Regex, v)?);
        }
        for m in &cfg.matchers {
            matchers.push(Matcher::parse(m)?);
        }
        // Alertmanager sorts a route's matchers (name, value, type) for its key.
        matchers.sort_by(|a, b| {
            (a.name.as_str(), a.value.as_str(), a.op.as_str()).cmp(&(
                b.name.as_str(),
                b.value.as_str(),
                b.op.as_str(),
            ))
        });
        let own = format!(
            "{{{}}}",
            matchers
                .iter()
                .map(Matcher::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let key = match &parent.key {
            Some(p) => format!("{p}/{own}"),
            None => own,
        };
        let group_by = match &cfg.group_by {
            None => parent.group_by.clone(),
            Some(list) if list.iter().any(|l| l == "...") => {
                if list.len() != 1 {
                    return Err(RouteError::MixedGroupBy(list.clone()));
                }
                GroupBy::All
            }
            Some(list) => {
                let mut l = list.clone();
                l.sort();
                l.dedup();
                GroupBy::Labels(l)
            }
        };
        let timers = Timers {
            group_wait: cfg.group_wait.map_or(parent.timers.group_wait, |d| d.0),
            group_interval: cfg
                .group_interval
                .map_or(parent.timers.group_interval, |d| d.0),
            repeat_interval: cfg
                .repeat_interval
                .map_or(parent.timers.repeat_interval, |d| d.0),
        };
        if timers.group_interval.is_zero() {
            return Err(RouteError::ZeroGroupInterval(key));
        }
        let id = self.routes.len();
        let inherited = Inherited {
            receiver: cfg
                .receiver
                .clone()
                .unwrap_or_else(|| parent.receiver.clone()),
            group_by: group_by.clone(),
            timers,
            key: Some(key.clone()),
            mention: cfg.mention.clone().or_else(|| parent.mention.clone()),
        };
        self.routes.push(Route {
            id,
            receiver: inherited.receiver.clone(),
            group_by,
            timers,
            matchers,
            continue_matching: cfg.continue_matching,
            mention: inherited.mention.clone(),
            key,
            children: Vec::new(),
        });
        for child in &cfg.routes {
            let c = self.add(child, &inherited)?;
            self.routes[id].children.push(c);
        }
        Ok(id)
    }

    pub fn root(&self) -> &Route {
        &self.routes[0]
    }

    /// The routes that take an alert with these labels (at least the root).
    pub fn matching(&self, labels: &Labels) -> Vec<&Route> {
        let mut ids = Vec::new();
        self.matching_ids(labels, &mut ids);
        ids.into_iter().map(|id| &self.routes[id]).collect()
    }

    /// [`RouteTree::matching`] as route ids, into `out` (cleared first): a dispatcher
    /// routing many alerts reuses one buffer.
    pub fn matching_ids(&self, labels: &Labels, out: &mut Vec<usize>) {
        out.clear();
        self.match_into(0, labels, out);
        if out.is_empty() {
            out.push(0);
        }
    }

    fn match_into(&self, id: usize, labels: &Labels, out: &mut Vec<usize>) -> bool {
        let route = &self.routes[id];
        if !route.matchers.iter().all(|m| m.matches(labels)) {
            return false;
        }
        let before = out.len();
        for &child in &route.children {
            if self.match_into(child, labels, out) && !self.routes[child].continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(id);
        }
        true
    }
}

struct Inherited {
    receiver: String,
    group_by: GroupBy,
    timers: Timers,
    key: Option<String>,
    mention: Option<Mention>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;

    fn tree(json: &str) -> RouteTree {
        RouteTree::compile(&serde_json::from_str(json).unwrap()).unwrap()
    }

    fn receivers(t: &RouteTree, l: &[(&str, &str)]) -> Vec<String> {
        t.matching(&labels(l.iter().copied()))
            .iter()
            .map(|r| r.receiver.clone())
            .collect()
    }

    const TREE: &str = r#"{"receiver": "default", "group_by": ["alertname"], "group_wait": "10s",
        "routes": [
          {"matchers": ["severity=\"critical\""], "receiver": "pager", "continue": true},
          {"match": {"team": "flink"}, "receiver": "flink",
           "routes": [{"match_re": {"job": "jobmanager|taskmanager"}, "receiver": "flink-runtime",
                       "group_by": ["..."], "repeat_interval": "1h"}]},
          {"match": {"team": "flink"}, "receiver": "never"}
        ]}"#;

    #[test]
    fn first_matching_child_wins_without_continue() {
        let t = tree(TREE);
        assert_eq!(receivers(&t, &[("team", "flink")]), ["flink"]);
    }

    #[test]
    fn continue_keeps_matching_later_siblings() {
        let t = tree(TREE);
        assert_eq!(
            receivers(&t, &[("team", "flink"), ("severity", "critical")]),
            ["pager", "flink"]
        );
    }

    #[test]
    fn unmatched_alerts_go_to_the_root() {
        let t = tree(TREE);
        assert_eq!(receivers(&t, &[("team", "web")]), ["default"]);
        // Only a `continue` route matched: the root does not take it as well.
        assert_eq!(receivers(&t, &[("severity", "critical")]), ["pager"]);
    }

    #[test]
    fn nested_routes_inherit_timers_and_grouping_unless_set() {
        let t = tree(TREE);
        let r = t.matching(&labels([("team", "flink"), ("job", "taskmanager")]));
        assert_eq!(r.len(), 1);
        let r = r[0];
        assert_eq!(r.receiver, "flink-runtime");
        assert_eq!(r.group_by, GroupBy::All);
        assert_eq!(r.timers.group_wait, Duration::from_secs(10));
        assert_eq!(r.timers.group_interval, DEFAULT_GROUP_INTERVAL);
        assert_eq!(r.timers.repeat_interval, Duration::from_secs(3600));
        let parent = &t.matching(&labels([("team", "flink")]))[0];
        assert_eq!(parent.group_by, GroupBy::Labels(vec!["alertname".into()]));
    }

    #[test]
    fn route_mentions_replace_the_receivers_and_are_inherited() {
        let t = tree(
            r#"{"receiver": "robot", "routes": [
                 {"matchers": ["severity=\"critical\""], "mention": {"mobiles": ["13800000000"]},
                  "routes": [{"matchers": ["team=\"db\""]},
                             {"matchers": ["team=\"web\""], "mention": {"all": true}}]},
                 {"matchers": ["severity=\"warning\""]}]}"#,
        );
        let mention =
            |l: &[(&str, &str)]| t.matching(&labels(l.iter().copied()))[0].mention.clone();
        assert_eq!(mention(&[("severity", "warning")]), None);
        let oncall = Some(Mention {
            mobiles: vec!["13800000000".into()],
            ..Mention::default()
        });
        assert_eq!(mention(&[("severity", "critical")]), oncall);
        assert_eq!(mention(&[("severity", "critical"), ("team", "db")]), oncall);
        assert_eq!(
            mention(&[("severity", "critical"), ("team", "web")]),
            Some(Mention {
                all: true,
                ..Mention::default()
            })
        );
    }

    #[test]
    fn route_keys_follow_alertmanager() {
        let t = tree(TREE);
        assert_eq!(t.routes[0].key, "{}");
        assert_eq!(t.routes[1].key, "{}/{severity=\"critical\"}");
        assert_eq!(
            t.routes[3].key,
            "{}/{team=\"flink\"}/{job=~\"jobmanager|taskmanager\"}"
        );
    }

    #[test]
    fn group_by_all_and_missing_labels() {
        let l = labels([("alertname", "A"), ("x", "1")]);
        assert_eq!(GroupBy::All.group_labels(&l), l);
        let g = GroupBy::Labels(vec!["alertname".into(), "job".into()]);
        assert_eq!(g.group_labels(&l), labels([("alertname", "A")]));
    }

    #[test]
    fn invalid_trees_are_rejected() {
        let bad =
            |json: &str| RouteTree::compile(&serde_json::from_str(json).unwrap()).unwrap_err();
        assert_eq!(bad(r#"{}"#), RouteError::NoRootReceiver);
        assert_eq!(
            bad(r#"{"receiver": "a", "match": {"x": "y"}}"#),
            RouteError::RootMatchers
        );
        assert!(matches!(
            bad(r#"{"receiver": "a", "group_by": ["...", "x"]}"#),
            RouteError::MixedGroupBy(_)
        ));
        assert!(matches!(
            bad(r#"{"receiver": "a", "routes": [{"matchers": ["x=~\"(\""]}]}"#),
            RouteError::Matcher(_)
        ));
    }

    #[test]
    fn unknown_receivers_are_named() {
        let cfg: NotifyConfig = serde_json::from_str(
            r#"{"route": {"receiver": "a", "routes": [{"receiver": "b"}]},
                "receivers": [{"name": "a"}]}"#,
        )
        .unwrap();
        assert_eq!(
            RouteTree::from_config(&cfg).unwrap_err().to_string(),
            "route {}/{} names receiver \"b\", which is not defined"
        );
    }

    #[test]
    fn group_hash_and_membership_follow_the_group_labels_alone() {
        let by = GroupBy::Labels(vec!["job".into(), "alertname".into()]);
        let a = labels([("alertname", "A"), ("instance", "1"), ("job", "x")]);
        let b = labels([("alertname", "A"), ("instance", "2"), ("job", "x")]);
        let no_job = labels([("alertname", "A"), ("instance", "1")]);
        assert_eq!(by.hash_of(&a), by.hash_of(&b));
        assert_ne!(by.hash_of(&a), by.hash_of(&no_job));
        let group = by.group_labels(&a);
        assert!(by.same_group(&b, &group));
        assert!(!by.same_group(&no_job, &group));
        assert!(by.same_group(&no_job, &by.group_labels(&no_job)));
        assert!(!by.same_group(&a, &by.group_labels(&no_job)));
        let all = GroupBy::All;
        assert!(all.same_group(&a, &a));
        assert!(!all.same_group(&a, &b));
    }
}
