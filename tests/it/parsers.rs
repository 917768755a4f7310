//! Every parser of untrusted input, fed mutated and random inputs: each returns an error or a
//! value, never panics. The inputs start from real files (a lock, manifests, registry metadata,
//! an artifact, a signature) and are mutated by a seeded generator, so a failure reproduces.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use provisioning::artifact::ArtifactName;
use provisioning::artifact::unpack::{Limits, read_artifact};
use provisioning::digest::{ContentHash, Sha256};
use provisioning::infra::lockfile::ProvidersLock;
use provisioning::infra::manifest::{InfraManifest, InfraManifestMut};
use provisioning::names::{ModuleName, PackRef};
use provisioning::registry::DirectoryRegistry;

use crate::common::TestContext;

/// xorshift64*: small, seeded, good enough to mutate bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `input` with a few bytes flipped, inserted, deleted or duplicated, or cut short.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut bytes = input.to_vec();
        for _ in 0..=self.below(4) {
            let at = self.below(bytes.len() + 1);
            match self.below(6) {
                0 if at < bytes.len() => bytes[at] ^= 1 << self.below(8),
                1 => bytes.insert(at, self.next() as u8),
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                3 => bytes.truncate(at),
                4 => {
                    let interesting: &[&[u8]] = &[
                        b"\xc3\xa9",
                        b"\x1b[2J",
                        b"..",
                        b"/",
                        b"\0",
                        b"{",
                        b"\"",
                        b"- ",
                        b"999999999999999999999",
                    ];
                    let piece = interesting[self.below(interesting.len())];
                    bytes.splice(at..at, piece.iter().copied());
                }
                _ if at < bytes.len() => {
                    let end = (at + self.below(16)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
                _ => {}
            }
        }
        bytes
    }
}

/// Mutations per seed: 400 in the suite; `PROVISIONING_FUZZ_ROUNDS=100000` for a long run, and
/// `PROVISIONING_FUZZ_SEED` for another sequence.
fn rounds() -> usize {
    std::env::var("PROVISIONING_FUZZ_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(400)
}

/// Runs `parse` on mutations of each seed input, and on the seeds themselves.
fn never_panics(name: &str, seeds: &[Vec<u8>], mut parse: impl FnMut(&[u8])) {
    let seed = std::env::var("PROVISIONING_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15_u64);
    let mut rng = Rng(seed ^ name.len() as u64);
    for seed in seeds {
        for round in 0..=rounds() {
            let input = if round == 0 {
                seed.clone()
            } else {
                rng.mutate(seed)
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| parse(&input)));
            assert!(
                outcome.is_ok(),
                "{name} panicked on {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn lock_files_never_panic() {
    let context = TestContext::examples_installed();
    let seed =
        std::fs::read(context.path("workspace/infra/wuji/providers.manifest.yaml")).expect("lock");
    let pack_entry = b"format_version: 1\nproviders:\n- name: aws\n  module: aws_prov\n  mode: pack\n  version: 1.0.0\n  source: distribution/registry\n  sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n  content_hash: h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n  signer: unsigned\n".to_vec();
    let path = context.path("lock.yaml");
    never_panics("the lock", &[seed, pack_entry], |bytes| {
        write(&path, bytes);
        let _ = ProvidersLock::read(&path);
    });
}

#[test]
fn manifests_never_panic() {
    let context = TestContext::examples_installed();
    let infra =
        std::fs::read(context.path("workspace/infra/wuji/manifest.toml")).expect("manifest");
    let module = std::fs::read(context.path("extensions/providers/aws/nickel/manifest.toml"))
        .expect("manifest");
    let path = context.path("manifest.toml");
    never_panics("manifests", &[infra, module], |bytes| {
        write(&path, bytes);
        let _ = InfraManifest::read(&path);
        if let Ok(mut manifest) = InfraManifestMut::open(&path, "wuji") {
            manifest.set_path_dependency("x_prov", "./.nickel-modules/x_prov");
            let _ = manifest.render();
        }
        let _ = provisioning::module::read_package_manifest(&path);
    });
}

#[test]
fn registry_metadata_never_panics() {
    let context = TestContext::examples();
    context.run(["pack", "provider", "local"]).success();
    let seed = std::fs::read(context.path("distribution/registry/local_prov.json")).expect("json");
    let registry =
        DirectoryRegistry::in_distribution_dir(&context.path("distribution"), &context.base);
    let module: ModuleName = "local_prov".parse().expect("valid");
    let path = context.path("distribution/registry/local_prov.json");
    never_panics("registry metadata", &[seed], |bytes| {
        write(&path, bytes);
        let _ = registry.read(&module);
    });
}

#[test]
fn archives_never_panic() {
    let context = TestContext::examples();
    context.run(["pack", "provider", "local"]).success();
    let seed =
        std::fs::read(context.path("distribution/packages/local_prov_0.2.0.tar")).expect("tar");
    let module: ModuleName = "local_prov".parse().expect("valid");
    let limits = Limits {
        max_entries: 1000,
        max_bytes: 1 << 20,
    };
    never_panics("the archive reader", &[seed], |bytes| {
        let _ = read_artifact(bytes, &module, &limits);
    });
}

#[test]
fn signatures_and_typed_values_never_panic() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "provider", "local"]).success();
    let signature =
        std::fs::read(context.path("distribution/packages/local_prov_0.2.0.tar.minisig"))
            .expect("signature");
    let artifact = context.path("distribution/packages/local_prov_0.2.0.tar");
    let keys = provisioning::signing::trusted_keys(
        &[(
            "HOME".to_owned(),
            context
                .base
                .parent()
                .expect("temp root")
                .display()
                .to_string(),
        )]
        .into(),
        &context.base,
    )
    .expect("keys");
    let bytes = std::fs::read(&artifact).expect("artifact");
    let pack: PackRef = "local_prov@0.2.0".parse().expect("valid");
    let sha256 = Sha256::of(&bytes);
    never_panics("signatures", &[signature], |input| {
        let text = String::from_utf8_lossy(input);
        let _ = provisioning::signing::verify(&keys, &artifact, &text, &bytes, &pack, &sha256);
    });
    let texts: Vec<Vec<u8>> = [
        "local_prov@0.2.0",
        "local_prov_0.2.0.tar",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "90F147AC9BEBBF61",
    ]
    .iter()
    .map(|text| text.as_bytes().to_vec())
    .collect();
    never_panics("typed values", &texts, |input| {
        let text = String::from_utf8_lossy(input);
        let _ = text.parse::<PackRef>();
        let _ = text.parse::<ArtifactName>();
        let _ = text.parse::<Sha256>();
        let _ = text.parse::<ContentHash>();
        let _ = text.parse::<provisioning::signing::KeyId>();
        let _ = Sha256::from_oci_digest(&text);
    });
}
