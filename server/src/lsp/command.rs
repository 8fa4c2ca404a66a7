//! The commands the server executes (`workspace/executeCommand`), as one typed list: the
//! capability the server announces and the dispatch (`requests/execute_command.rs`) both come
//! from it, so they cannot disagree. A leaf: the handlers that name commands import it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCommand {
    /// The code lens's command: the editor shows the crashes itself; nothing to do here.
    ShowCrashes,
    Investigate,
    ApplyFix,
    ShowFix,
    ShowReport,
    OpenInSentry,
    ResolveInSentry,
    IgnoreInSentry,
    OpenPullRequest,
}

impl ServerCommand {
    pub const ALL: [Self; 9] = [
        Self::ShowCrashes,
        Self::Investigate,
        Self::ApplyFix,
        Self::ShowFix,
        Self::ShowReport,
        Self::OpenInSentry,
        Self::ResolveInSentry,
        Self::IgnoreInSentry,
        Self::OpenPullRequest,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::ShowCrashes => "crashloom.showCrashes",
            Self::Investigate => "crashloom.investigate",
            Self::ApplyFix => "crashloom.applyFix",
            Self::ShowFix => "crashloom.showFix",
            Self::ShowReport => "crashloom.showReport",
            Self::OpenInSentry => "crashloom.openInSentry",
            Self::ResolveInSentry => "crashloom.resolveInSentry",
            Self::IgnoreInSentry => "crashloom.ignoreInSentry",
            Self::OpenPullRequest => "crashloom.openPullRequest",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|command| command.name() == name)
    }

    /// What `initialize` announces in `executeCommandProvider.commands`.
    pub fn capability_list() -> Vec<String> {
        Self::ALL.iter().map(|command| command.name().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ServerCommand;

    #[test]
    fn every_command_is_announced_once_and_found_by_its_name() {
        let names = ServerCommand::capability_list();
        assert_eq!(names.len(), ServerCommand::ALL.len());
        for command in ServerCommand::ALL {
            assert_eq!(ServerCommand::from_name(command.name()), Some(command));
            assert_eq!(names.iter().filter(|n| *n == command.name()).count(), 1);
        }
        assert_eq!(ServerCommand::from_name("crashloom.nothing"), None);
    }
}
