//! Black-box tests of the guarantees under what operators and adversaries
//! do: real `concord` processes in temp dirs, through the harness of
//! `concord-scenarios`.

mod evidence;
mod surfaces;
