{
  description = "idpkit: plumbing for an internal developer platform (CLI, C library, Go/Python/Node bindings)";

  # Only nixpkgs: the Rust build uses nixpkgs' buildRustPackage with the checked-in
  # Cargo.lock, so no other input is fetched.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      lib = nixpkgs.lib;
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;

      # The Rust workspace and nothing else: editing docs, tests of other languages or this
      # flake does not rebuild the library.
      rustSrc = lib.fileset.toSource {
        root = ./.;
        fileset = lib.fileset.unions [
          ./Cargo.toml
          ./Cargo.lock
          ./core
          ./cli
          ./ffi
          ./include
          # Workspace members: cargo needs their manifests to resolve the workspace.
          ./bindings/python
          ./bindings/node
          ./bindings/kotlin/Cargo.toml
          ./bindings/kotlin/src/lib.rs
        ];
      };

      # The C test and its fixture (for checks.c-abi).
      cSrc = lib.fileset.toSource {
        root = ./.;
        fileset = ./tests/c;
      };

      perSystem = pkgs:
        let
          rustBuild = args: pkgs.rustPlatform.buildRustPackage ({
            inherit version;
            src = rustSrc;
            cargoLock.lockFile = ./Cargo.lock;
            # perl: openssl-src builds the OpenSSL libssh2 uses (git over SSH, core's git2).
            nativeBuildInputs = [ pkgs.pkg-config pkgs.perl ];
            doCheck = false;
          } // args);

          cli = rustBuild {
            pname = "idpkit";
            cargoBuildFlags = [ "-p" "idpkit-cli" ];
            meta = {
              description = "Build OCI images from a directory with no daemon, and more";
              mainProgram = "idpkit";
              license = lib.licenses.asl20;
            };
          };

          libidpkit = rustBuild {
            pname = "libidpkit";
            cargoBuildFlags = [ "-p" "idpkit-ffi" ];
            installPhase = ''
              runHook preInstall
              mkdir -p $out/lib $out/include
              release=$(dirname "$(find target -path '*/release/libidpkit_ffi.a' | head -1)")
              cp "$release/libidpkit_ffi.a" $out/lib/
              cp "$release/libidpkit_ffi${pkgs.stdenv.hostPlatform.extensions.sharedLibrary}" $out/lib/
              cp include/idpkit.h $out/include/
              bash ffi/pkgconfig.sh $out/lib $out/include $out/lib/pkgconfig/idpkit.pc
              runHook postInstall
            '';
            meta = {
              description = "The C ABI of idpkit: static and shared library, idpkit.h, pkg-config";
              license = lib.licenses.asl20;
            };
          };
          # The Python package: maturin builds bindings/python against the workspace's lock.
          python = pkgs.python3Packages.buildPythonPackage {
            pname = "idpkit";
            inherit version;
            pyproject = true;
            src = rustSrc;
            buildAndTestSubdir = "bindings/python";
            cargoDeps = pkgs.rustPlatform.importCargoLock { lockFile = ./Cargo.lock; };
            nativeBuildInputs = [ pkgs.rustPlatform.cargoSetupHook pkgs.rustPlatform.maturinBuildHook ];
            pythonImportsCheck = [ "idpkit" ];
            meta.license = lib.licenses.asl20;
          };

          # The Node package: the napi addon next to the checked-in loader and typings, laid out
          # as node_modules/idpkit (index.js loads ./idpkit.<platform>.node).
          nodeTriple = {
            "x86_64-linux" = "linux-x64-gnu";
            "aarch64-linux" = "linux-arm64-gnu";
            "x86_64-darwin" = "darwin-x64";
            "aarch64-darwin" = "darwin-arm64";
          }.${pkgs.stdenv.hostPlatform.system};
          node = rustBuild {
            pname = "idpkit-node";
            cargoBuildFlags = [ "-p" "idpkit-node" ];
            installPhase = ''
              runHook preInstall
              dest=$out/lib/node_modules/idpkit
              mkdir -p $dest
              addon=$(find target -path '*/release/libidpkit_node${pkgs.stdenv.hostPlatform.extensions.sharedLibrary}' | head -1)
              cp "$addon" $dest/idpkit.${nodeTriple}.node
              cp ${./bindings/node/index.js} $dest/index.js
              cp ${./bindings/node/index.d.ts} $dest/index.d.ts
              cp ${./bindings/node/package.json} $dest/package.json
              runHook postInstall
            '';
            meta.license = lib.licenses.asl20;
          };
        in
        {
          packages = {
            default = cli;
            idpkit = cli;
            inherit libidpkit python node;
          };

          checks = {
            # The unit tests of the core and the C ABI. The integration tests need the rig's
            # real peers (skopeo, umoci, registries), which the Nix sandbox does not have; they
            # run in tests/suites.
            tests = rustBuild {
              pname = "idpkit-tests";
              doCheck = true;
              cargoTestFlags = [ "-p" "idpkit" "-p" "idpkit-ffi" "--lib" ];
              cargoBuildFlags = [ "-p" "idpkit-cli" "-p" "idpkit-ffi" ];
              installPhase = "touch $out";
            };

            clippy = rustBuild {
              pname = "idpkit-clippy";
              nativeBuildInputs = [ pkgs.pkg-config pkgs.clippy ];
              buildPhase = ''
                cargo clippy --offline --locked -p idpkit -p idpkit-cli -p idpkit-ffi --all-targets -- -D warnings
              '';
              installPhase = "touch $out";
            };

            fmt = pkgs.runCommand "idpkit-fmt" { nativeBuildInputs = [ pkgs.rustfmt ]; } ''
              cd ${rustSrc}
              find . -name '*.rs' -not -path './target/*' -print0 | xargs -0 rustfmt --edition 2021 --check
              touch $out
            '';

            # include/idpkit.h is what cbindgen makes of ffi/src. The header is pinned to
            # cbindgen 0.29.4 (ffi/generate-header.sh); when nixpkgs carries another version
            # the diff is left to tests/suites/20-c.sh and this check only compiles the header.
            header = pkgs.runCommand "idpkit-header" {
              nativeBuildInputs = [ pkgs.rust-cbindgen pkgs.cargo pkgs.rustc pkgs.gcc ];
            } ''
              cp -r ${rustSrc} src && chmod -R u+w src && cd src
              if [ "$(cbindgen --version | awk '{print $2}')" = 0.29.4 ]; then
                export HOME=$TMPDIR CBINDGEN=$(command -v cbindgen)
                bash ffi/generate-header.sh --check
              else
                echo "nixpkgs cbindgen $(cbindgen --version) is not the pinned 0.29.4: compile-checking only"
              fi
              printf '#include "idpkit.h"\nint main(void){return 0;}\n' > h.c
              gcc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only h.c
              grep -q '#define IDPKIT_VERSION_MINOR' include/idpkit.h
              touch $out
            '';

            # The C test program against the packaged static library.
            c-abi = pkgs.runCommand "idpkit-c-abi" {
              nativeBuildInputs = [ pkgs.gcc pkgs.pkg-config ];
            } ''
              export PKG_CONFIG_PATH=${libidpkit}/lib/pkgconfig
              gcc -std=gnu11 -Wall -Wextra -Werror $(pkg-config --cflags idpkit) \
                ${cSrc}/tests/c/test_idpkit.c -o test_idpkit \
                $(pkg-config --variable=staticlib idpkit) -lpthread -lm -ldl
              ./test_idpkit ${cSrc}/tests/c/fixture | tee $out
            '';
          };

          devShells.default = pkgs.mkShell {
            inputsFrom = [ cli ];
            packages = with pkgs; [
              cargo rustc clippy rustfmt rust-analyzer
              rust-cbindgen pkg-config gcc
              go
              python3 maturin
              nodejs
            ] ++ lib.optional pkgs.stdenv.isLinux pkgs.valgrind;
          };
        };

      each = forAllSystems perSystem;
    in
    {
      packages = lib.mapAttrs (_: s: s.packages) each;
      checks = lib.mapAttrs (_: s: s.checks) each;
      devShells = lib.mapAttrs (_: s: s.devShells) each;
    };
}
