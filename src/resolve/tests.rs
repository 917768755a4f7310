use super::*;

/// An index written as `module: [(version, [(dependency, requirement)])]`.
struct Fixture(BTreeMap<ModuleName, Vec<Candidate>>);

type Versions<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)])];

impl Fixture {
    fn new(modules: &[(&str, Versions<'_>)]) -> Self {
        let mut index = BTreeMap::new();
        for (module, versions) in modules {
            let candidates = versions
                .iter()
                .map(|(version, dependencies)| Candidate {
                    version: Version::parse(version).expect("version"),
                    dependencies: dependencies
                        .iter()
                        .map(|(name, req)| {
                            (
                                name.parse().expect("name"),
                                VersionReq::parse(req).expect("req"),
                            )
                        })
                        .collect(),
                    excluded: None,
                })
                .collect();
            index.insert(module.parse().expect("name"), candidates);
        }
        Self(index)
    }
}

impl Index for Fixture {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        self.0
            .get(module)
            .cloned()
            .ok_or_else(|| format!("unknown module `{module}`"))
    }
}

fn root(module: &str, requirement: &str) -> Requirement {
    Requirement {
        module: module.parse().expect("name"),
        requirement: VersionReq::parse(requirement).expect("req"),
        origin: Origin::Root(format!("the install of {module}")),
    }
}

fn versions(resolution: &Resolution) -> Vec<String> {
    resolution
        .iter()
        .map(|(module, resolved)| format!("{module} {}", resolved.version))
        .collect()
}

#[test]
fn newest_matching_versions_of_a_chain() {
    let index = Fixture::new(&[
        ("web_prov", &[("1.0.0", &[("net_prov", "^0.2")])]),
        (
            "net_prov",
            &[
                ("0.1.0", &[]),
                ("0.2.0", &[("core", "^0.1")]),
                ("0.2.5", &[("core", "^0.1")]),
                ("0.3.0", &[]),
            ],
        ),
        ("core", &[("0.1.0", &[]), ("0.1.4", &[]), ("0.2.0", &[])]),
    ]);
    let resolution =
        resolve(&[root("web_prov", "=1.0.0")], &index, &BTreeMap::new()).expect("resolves");
    assert_eq!(
        versions(&resolution),
        ["core 0.1.4", "net_prov 0.2.5", "web_prov 1.0.0"]
    );
    let core = &resolution[&"core".parse::<ModuleName>().expect("name")];
    assert_eq!(
        core.required_by
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["net_prov"]
    );
    assert!(!core.root);
    assert!(resolution[&"web_prov".parse::<ModuleName>().expect("name")].root);
}

#[test]
fn a_diamond_that_agrees_shares_one_version() {
    let index = Fixture::new(&[
        ("a_prov", &[("1.0.0", &[("core", "^0.1")])]),
        ("b_prov", &[("1.0.0", &[("core", ">=0.1.2, <0.3")])]),
        (
            "core",
            &[
                ("0.1.0", &[]),
                ("0.1.3", &[]),
                ("0.2.0", &[]),
                ("0.3.0", &[]),
            ],
        ),
    ]);
    let resolution = resolve(
        &[root("a_prov", "*"), root("b_prov", "*")],
        &index,
        &BTreeMap::new(),
    )
    .expect("resolves");
    assert_eq!(
        versions(&resolution),
        ["a_prov 1.0.0", "b_prov 1.0.0", "core 0.1.3"]
    );
}

#[test]
fn a_diamond_that_conflicts_names_both_requirements() {
    let index = Fixture::new(&[
        ("upcloud_prov", &[("0.2.0", &[("core", "^0.1")])]),
        ("aws_prov", &[("1.0.0", &[("core", "^0.2")])]),
        ("core", &[("0.1.0", &[]), ("0.2.0", &[])]),
    ]);
    let error = resolve(
        &[root("upcloud_prov", "=0.2.0"), root("aws_prov", "=1.0.0")],
        &index,
        &BTreeMap::new(),
    )
    .expect_err("conflicts");
    assert_eq!(
        error.to_string(),
        "no version of `core` satisfies every requirement on it:\n  aws_prov 1.0.0 requires core ^0.2\n  upcloud_prov 0.2.0 requires core ^0.1\nhint: available: 0.1.0, 0.2.0"
    );
}

#[test]
fn backtracks_to_an_older_version_that_fits() {
    // The newest `b` needs a `core` that `a` refuses; the one before does not.
    let index = Fixture::new(&[
        (
            "a_prov",
            &[("1.0.0", &[("core", "^0.1"), ("b_prov", "^1")])],
        ),
        (
            "b_prov",
            &[
                ("1.1.0", &[("core", "^0.2")]),
                ("1.0.0", &[("core", "^0.1")]),
            ],
        ),
        ("core", &[("0.1.0", &[]), ("0.2.0", &[])]),
    ]);
    let resolution = resolve(&[root("a_prov", "*")], &index, &BTreeMap::new()).expect("resolves");
    assert_eq!(
        versions(&resolution),
        ["a_prov 1.0.0", "b_prov 1.0.0", "core 0.1.0"]
    );
}

#[test]
fn preferred_versions_stay_when_they_satisfy() {
    let index = Fixture::new(&[("core", &[("0.1.0", &[]), ("0.1.5", &[])])]);
    let pinned = BTreeMap::from([(
        "core".parse().expect("name"),
        Version::parse("0.1.0").expect("version"),
    )]);
    let resolution = resolve(&[root("core", "^0.1")], &index, &pinned).expect("resolves");
    assert_eq!(versions(&resolution), ["core 0.1.0"]);
}

#[test]
fn pre_releases_only_when_asked_for() {
    let index = Fixture::new(&[("core", &[("0.1.0", &[]), ("0.2.0-beta.1", &[])])]);
    let plain = resolve(&[root("core", ">=0.1")], &index, &BTreeMap::new()).expect("resolves");
    assert_eq!(versions(&plain), ["core 0.1.0"]);
    let asked =
        resolve(&[root("core", ">=0.2.0-beta.1")], &index, &BTreeMap::new()).expect("resolves");
    assert_eq!(versions(&asked), ["core 0.2.0-beta.1"]);
}

#[test]
fn excluded_versions_are_never_chosen_and_say_why() {
    let mut index = Fixture::new(&[("core", &[("0.1.0", &[]), ("0.1.1", &[])])]);
    for candidate in index.0.values_mut().flatten() {
        candidate.excluded = Some(UNSIGNED.to_owned());
    }
    let error = resolve(&[root("core", "^0.1")], &index, &BTreeMap::new()).expect_err("none");
    assert!(error.unsigned());
    assert_eq!(
        error.to_string(),
        "no version of `core` satisfies the requirement on it:\n  the install of core requires core ^0.1\nhint: available: 0.1.0 (unsigned), 0.1.1 (unsigned); pass `--allow-unsigned=core` to accept its unsigned versions"
    );
}

#[test]
fn cycles_and_unknown_modules_are_errors() {
    let index = Fixture::new(&[
        ("a_prov", &[("1.0.0", &[("b_prov", "*")])]),
        ("b_prov", &[("1.0.0", &[("a_prov", "*")])]),
        ("c_prov", &[("1.0.0", &[("nosuch", "*")])]),
    ]);
    let cycle = resolve(&[root("a_prov", "*")], &index, &BTreeMap::new()).expect_err("cycle");
    assert_eq!(
        cycle.to_string(),
        "dependency cycle: a_prov 1.0.0 -> b_prov 1.0.0 -> a_prov"
    );
    let unknown = resolve(&[root("c_prov", "*")], &index, &BTreeMap::new()).expect_err("unknown");
    assert_eq!(
        unknown.to_string(),
        "unknown module `nosuch`\n  needed because c_prov 1.0.0 requires nosuch *"
    );
}

/// An index built in code: `modules` as `(name, versions)`, each version with its dependencies.
struct Generated(BTreeMap<ModuleName, Vec<Candidate>>);

impl Generated {
    fn new(
        modules: impl IntoIterator<Item = (String, Vec<(String, Vec<(String, String)>)>)>,
    ) -> Self {
        let mut index = BTreeMap::new();
        for (module, versions) in modules {
            let candidates = versions
                .into_iter()
                .map(|(version, dependencies)| Candidate {
                    version: Version::parse(&version).expect("version"),
                    dependencies: dependencies
                        .into_iter()
                        .map(|(name, req)| {
                            (
                                name.parse().expect("name"),
                                VersionReq::parse(&req).expect("req"),
                            )
                        })
                        .collect(),
                    excluded: None,
                })
                .collect();
            index.insert(module.parse().expect("name"), candidates);
        }
        Self(index)
    }

    /// `m0 -> m1 -> … -> m<length-1>`, one version each.
    fn chain(length: usize) -> Self {
        Self::new((0..length).map(|n| {
            let dependencies = if n + 1 < length {
                vec![(format!("m{}", n + 1), "^1".to_owned())]
            } else {
                Vec::new()
            };
            (format!("m{n}"), vec![("1.0.0".to_owned(), dependencies)])
        }))
    }
}

impl Index for Generated {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        self.0
            .get(module)
            .cloned()
            .ok_or_else(|| format!("unknown module `{module}`"))
    }
}

/// Regression: the search recursed once per module, and a chain of about 8,000 modules
/// overflowed the stack (a test thread's is smaller still).
#[test]
fn a_chain_of_nine_thousand_modules_resolves_without_recursion() {
    let index = Generated::chain(9_000);
    let resolution = resolve(&[root("m0", "^1")], &index, &BTreeMap::new()).expect("resolves");
    assert_eq!(resolution.len(), 9_000);
    let last = &resolution[&"m8999".parse::<ModuleName>().expect("name")];
    assert_eq!(
        last.required_by
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["m8998"]
    );
}

#[test]
fn a_chain_longer_than_the_modules_bound_is_refused_naming_it() {
    let index = Generated::chain(MAX_MODULES + 1);
    let error = resolve(&[root("m0", "^1")], &index, &BTreeMap::new()).expect_err("too many");
    assert_eq!(
        error.to_string(),
        "resolution would read more than 10000 modules, the most one resolution reads: the dependencies reach too far\nhint: a registry's metadata names more dependencies than any infra holds; check what requires them"
    );
}

#[test]
fn a_cycle_at_the_end_of_a_long_chain_is_found_without_recursion() {
    let mut index = Generated::chain(9_000);
    let last: ModuleName = "m8999".parse().expect("name");
    index.0.get_mut(&last).expect("last")[0]
        .dependencies
        .insert("m0".parse().expect("name"), VersionReq::STAR);
    let error = resolve(&[root("m0", "^1")], &index, &BTreeMap::new()).expect_err("cycle");
    let message = error.to_string();
    assert!(
        message.starts_with("dependency cycle: m0 1.0.0 -> m1 1.0.0 -> ")
            && message.ends_with(" -> m8999 1.0.0 -> m0"),
        "{message}"
    );
}

/// Regression: each decided module cloned the queue of every module still to decide, so one
/// module with 5,000 dependencies took memory in the square of that.
#[test]
fn a_module_with_five_thousand_dependencies_resolves() {
    let dependencies: Vec<(String, String)> = (0..5_000)
        .map(|n| (format!("d{n}"), "^1".to_owned()))
        .collect();
    let mut modules = vec![("wide".to_owned(), vec![("1.0.0".to_owned(), dependencies)])];
    modules.extend((0..5_000).map(|n| (format!("d{n}"), vec![("1.0.0".to_owned(), Vec::new())])));
    let index = Generated::new(modules);
    let resolution = resolve(&[root("wide", "*")], &index, &BTreeMap::new()).expect("resolves");
    assert_eq!(resolution.len(), 5_001);
}

/// Twenty modules of ten versions each, and a conflict that only shows once all of them are
/// chosen: chronological backtracking would try 10^20 combinations. The work bound stops it.
#[test]
fn exponential_backtracking_stops_at_the_work_bound() {
    let mut dependencies: Vec<(String, String)> =
        (0..20).map(|n| (format!("b{n}"), "*".to_owned())).collect();
    dependencies.push(("a_bad".to_owned(), "*".to_owned()));
    let mut modules = vec![
        ("top".to_owned(), vec![("1.0.0".to_owned(), dependencies)]),
        (
            "a_bad".to_owned(),
            vec![(
                "1.0.0".to_owned(),
                vec![("nothing".to_owned(), ">=2".to_owned())],
            )],
        ),
        ("nothing".to_owned(), vec![("1.0.0".to_owned(), Vec::new())]),
    ];
    modules.extend((0..20).map(|n| {
        let versions = (0..10).map(|v| (format!("1.{v}.0"), Vec::new())).collect();
        (format!("b{n}"), versions)
    }));
    let index = Generated::new(modules);
    let error = resolve(&[root("top", "*")], &index, &BTreeMap::new()).expect_err("gives up");
    assert_eq!(
        error,
        ResolveError::TooMuchWork { limit: MAX_WORK },
        "{error}"
    );
}

/// An index that records what it was asked to prefetch.
struct Recording {
    inner: Generated,
    frontiers: std::sync::Mutex<Vec<Vec<String>>>,
}

impl Index for Recording {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        self.inner.candidates(module)
    }

    fn prefetch(&self, modules: &[ModuleName]) {
        let names = modules.iter().map(ToString::to_string).collect();
        self.frontiers.lock().expect("lock").push(names);
    }
}

#[test]
fn the_index_is_read_a_frontier_at_a_time() {
    let index = Recording {
        inner: Generated::new([
            (
                "top".to_owned(),
                vec![(
                    "1.0.0".to_owned(),
                    vec![
                        ("a".to_owned(), "*".to_owned()),
                        ("b".to_owned(), "*".to_owned()),
                    ],
                )],
            ),
            (
                "a".to_owned(),
                vec![("1.0.0".to_owned(), vec![("c".to_owned(), "*".to_owned())])],
            ),
            (
                "b".to_owned(),
                vec![("1.0.0".to_owned(), vec![("c".to_owned(), "*".to_owned())])],
            ),
            ("c".to_owned(), vec![("1.0.0".to_owned(), Vec::new())]),
        ]),
        frontiers: std::sync::Mutex::new(Vec::new()),
    };
    let resolution = resolve(&[root("top", "*")], &index, &BTreeMap::new()).expect("resolves");
    assert_eq!(
        versions(&resolution),
        ["a 1.0.0", "b 1.0.0", "c 1.0.0", "top 1.0.0"]
    );
    assert_eq!(
        *index.frontiers.lock().expect("lock"),
        [vec!["top"], vec!["a", "b"], vec!["c"]]
    );
}
