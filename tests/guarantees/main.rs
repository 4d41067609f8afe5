//! Black-box tests of the guarantees under what operators and adversaries
//! do, against real `concord` processes.

mod surfaces;
