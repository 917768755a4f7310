use std::process::ExitCode;

fn main() -> ExitCode {
    provisioning::main(std::env::args_os())
}
