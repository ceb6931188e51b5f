//! `faultdrill schema`: the JSON Schema of the experiment format.

pub fn run() -> anyhow::Result<u8> {
    anyhow::bail!("this command is not built yet")
}
