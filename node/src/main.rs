fn main() {
    eprintln!("node: not built yet (see the node issue)");
    std::process::exit(2);
}
