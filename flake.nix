{
  description = "floe: the platform compiler for data platforms";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { nixpkgs, ... }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      cargoToml = builtins.fromTOML (builtins.readFile ./Cargo.toml);
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.rustPlatform.buildRustPackage {
          pname = "floe";
          version = cargoToml.workspace.package.version;

          # The workspace minus build outputs, floe's own outputs and its store.
          src = pkgs.lib.cleanSourceWith {
            src = pkgs.lib.cleanSource ./.;
            filter =
              path: type:
              !builtins.elem (baseNameOf path) [
                "target"
                "floe-out"
                ".floe"
              ];
          };
          cargoLock.lockFile = ./Cargo.lock;

          # Only the `floe` binary; `floe-bench` is a development tool.
          cargoBuildFlags = [
            "--package"
            "floe"
            "--bin"
            "floe"
          ];

          # The test suite needs the services the test script installs (an OCI
          # registry, a Kubernetes API, ...), which the Nix sandbox does not have.
          doCheck = false;

          meta = {
            description = cargoToml.package.description;
            license = pkgs.lib.licenses.asl20;
            mainProgram = "floe";
          };
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            rustc
            cargo
            clippy
            rustfmt
            cargo-nextest
            # `python3 -m venv` is in the standard library; pip for the conformance tools.
            (python3.withPackages (ps: [ ps.pip ]))
            skopeo
            kubernetes-helm
            # The CNCF OCI registry (`registry serve`), a local target for `floe publish`.
            distribution
          ];
          RUST_SRC_PATH = "${pkgs.rustPlatform.rustLibSrc}";
        };
      });
    };
}
