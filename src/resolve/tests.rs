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
        "no version of `core` satisfies the requirement on it:\n  the install of core requires core ^0.1\nhint: available: 0.1.0 (unsigned), 0.1.1 (unsigned); pass `--allow-unsigned` to accept unsigned versions"
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
