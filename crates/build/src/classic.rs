//! Docker's classic builder stream: `Step 1/5 : FROM busybox`, ` ---> Using cache`,
//! ` ---> 3f2a…`, RUN output, in Dockerfile order even when stages ran in parallel (a later
//! stage's lines wait until the stages before it are done).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::progress::{short_id, Event};

/// Turns events into the text lines of the classic stream (each a `{"stream": …}` message).
pub struct ClassicStream<F: Fn(String) + Send + Sync> {
    emit: F,
    state: Mutex<Order>,
    quiet: bool,
}

#[derive(Default)]
struct Order {
    /// Stages in output order.
    order: Vec<usize>,
    /// Index into `order` of the stage now printing.
    current: usize,
    held: BTreeMap<usize, Vec<Event>>,
    done: Vec<usize>,
}

impl<F: Fn(String) + Send + Sync> ClassicStream<F> {
    /// `stages`: the stages that will report, in Dockerfile order. `quiet`: print nothing
    /// but warnings (`-q`).
    pub fn new(stages: Vec<usize>, quiet: bool, emit: F) -> Self {
        Self {
            emit,
            state: Mutex::new(Order {
                order: stages,
                ..Order::default()
            }),
            quiet,
        }
    }

    fn print(&self, event: &Event) {
        if self.quiet {
            return;
        }
        let text = match event {
            Event::Step {
                number,
                total,
                text,
                ..
            } => format!("Step {number}/{total} : {text}\n"),
            Event::Cached { .. } => " ---> Using cache\n".to_string(),
            Event::Running { container, .. } => format!(" ---> Running in {container}\n"),
            Event::Output { data, .. } => String::from_utf8_lossy(data).into_owned(),
            Event::StepDone { id, .. } => format!(" ---> {}\n", short_id(id)),
            Event::StageDone { .. } => return,
            Event::Warning(w) => format!("[Warning] {w}\n"),
        };
        (self.emit)(text)
    }

    /// Feeds one event.
    pub fn event(&self, event: Event) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(stage) = event.stage() else {
            drop(st);
            return self.print(&event);
        };
        let current = st.order.get(st.current).copied();
        if current != Some(stage) {
            let done = matches!(event, Event::StageDone { .. });
            st.held.entry(stage).or_default().push(event);
            if done {
                st.done.push(stage);
            }
            return;
        }
        let done = matches!(event, Event::StageDone { .. });
        self.print(&event);
        if !done {
            return;
        }
        // Advance, flushing stages that were held and maybe already finished.
        loop {
            st.current += 1;
            let Some(&next) = st.order.get(st.current) else {
                return;
            };
            for e in st.held.remove(&next).unwrap_or_default() {
                self.print(&e);
            }
            if !st.done.contains(&next) {
                return;
            }
        }
    }

    /// Emits whatever is still held (after a failure, so no output is lost).
    pub fn flush(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let held = std::mem::take(&mut st.held);
        for (_, events) in held {
            for e in events {
                self.print(&e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn later_stages_wait_for_earlier_ones() {
        let out = Arc::new(Mutex::new(String::new()));
        let o = out.clone();
        let s = ClassicStream::new(vec![0, 1], false, move |t| o.lock().unwrap().push_str(&t));
        let step = |stage, number| Event::Step {
            stage,
            number,
            total: 2,
            text: format!("s{stage}"),
            label: String::new(),
        };
        s.event(step(1, 2));
        s.event(Event::StageDone { stage: 1 });
        s.event(step(0, 1));
        s.event(Event::Cached { stage: 0 });
        s.event(Event::StageDone { stage: 0 });
        assert_eq!(
            out.lock().unwrap().as_str(),
            "Step 1/2 : s0\n ---> Using cache\nStep 2/2 : s1\n"
        );
    }
}
